"""Time zones are validated where they enter (safety invariant 3): an unknown zone is a
422 naming the field, in every request model that carries one; and a zone stored before
that check (or written by hand) never makes a read path answer 500."""

import inspect
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from core.inputs import Strict
from core.zones import valid_zone
from device_registry import schemas
from tests.support.world import World

Auth = Callable[[str], dict[str, str]]
UNKNOWN_ZONES = ["Asia/Beijing", "Beijing", "asia/shanghai", "../../etc/passwd", "", "GMT+8 "]
# In the zoneinfo database, but naming no place: the server's own zone (`localtime`), POSIX
# rules and legacy aliases would move "10:00 local" with the machine the service runs on.
PLACELESS_ZONES = ["localtime", "EST5EDT", "posix/Asia/Shanghai", "right/UTC", "Factory", "PRC"]


def _elder(world: World, zone: str) -> dict[str, Any]:
    return {
        "community_id": world.communities["east"],
        "name": "测试老人",
        "home": {"address": "东胜区测试路1号"},
        "timezone": zone,
    }


REQUESTS = {
    "elder": ("/api/v1/elders", _elder),
    "district": ("/api/v1/districts", lambda world, zone: {"name": "时区区", "timezone": zone}),
}


@pytest.mark.parametrize("zone", UNKNOWN_ZONES + PLACELESS_ZONES)
@pytest.mark.parametrize("what", sorted(REQUESTS))
def test_an_unknown_zone_is_refused_naming_the_field(
    client: TestClient, world: World, auth: Auth, what: str, zone: str
) -> None:
    path, body = REQUESTS[what]
    response = client.post(path, json=body(world, zone), headers=auth(world.usernames["admin"]))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"][-1] == "timezone"
    assert "Asia/Shanghai" in error["msg"]


def test_a_known_zone_is_kept(client: TestClient, world: World, auth: Auth) -> None:
    response = client.post(
        "/api/v1/elders",
        json=_elder(world, "Asia/Urumqi"),
        headers=auth(world.usernames["admin"]),
    )
    assert response.status_code == 201, response.text
    assert response.json()["timezone"] == "Asia/Urumqi"


def _zone_fields() -> list[tuple[type[BaseModel], str]]:
    models = [
        model
        for _, model in inspect.getmembers(schemas, inspect.isclass)
        if issubclass(model, Strict) and model is not Strict
    ]
    return [
        (model, name)
        for model in models
        for name in model.model_fields
        if "zone" in name or "tz" in name.split("_")
    ]


def test_every_request_field_with_a_zone_refuses_an_unknown_one() -> None:
    # A model added later with a time zone of its own is checked here too.
    found = _zone_fields()
    assert {model.__name__ for model, _ in found} >= {"ElderCreate", "DistrictCreate"}
    for model, name in found:
        info = model.model_fields[name]
        assert any(getattr(meta, "func", None) is valid_zone for meta in info.metadata), (
            f"{model.__name__}.{name} takes any string as a time zone; use schemas.Zone"
        )
        # the field on its own, through the model's own validator
        blank = model.model_construct()
        with pytest.raises(ValidationError):
            model.__pydantic_validator__.validate_assignment(blank, name, "Asia/Beijing")
        model.__pydantic_validator__.validate_assignment(blank, name, "Asia/Shanghai")


@pytest.fixture
def elder_with_a_stored_bad_zone(database_url: str, world: World) -> Any:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE elders SET timezone = 'Asia/Beijing' WHERE id = %s", (world.elders["east_a"],)
        )
    yield world.elders["east_a"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE elders SET timezone = 'Asia/Shanghai' WHERE id = %s", (world.elders["east_a"],)
        )


def test_a_stored_unknown_zone_never_answers_500(
    client: TestClient, world: World, auth: Auth, elder_with_a_stored_bad_zone: int
) -> None:
    worker = auth(world.usernames["community_worker"])
    elder = elder_with_a_stored_bad_zone
    heat = client.get(f"/api/v1/elders/{elder}/activity", headers=worker)
    assert heat.status_code == 200, heat.text
    assert heat.json()["timezone"] == "Asia/Shanghai"  # the zone the hours are really in
    readings = client.get(
        f"/api/v1/devices/{world.devices['east_a']}/readings",
        params={"field": "battery"},
        headers=worker,
    )
    assert readings.status_code == 200, readings.text
    profile = client.get(f"/api/v1/elders/{elder}", headers=worker)
    assert profile.status_code == 200, profile.text
    assert profile.json()["timezone"] == "Asia/Beijing"  # shown as stored, to be corrected
