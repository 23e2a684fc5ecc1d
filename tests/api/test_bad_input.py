"""Input that once gave a 5xx answers a 4xx saying what to fix: integers past PostgreSQL's
bigint, non-finite numbers, text that is not UTF-8 (lone surrogates) and explicit nulls in
PATCH bodies. Each case is a regression test; the schema-wide tests catch the next
parameter or field someone adds without the shared types."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.inputs import Patch
from device_registry import schemas
from tests.support.world import World

Auth = Callable[[str], dict[str, str]]
BIGINT_MAX = 2**63 - 1
TOO_BIG = 2**63


def errors_naming(response: Any, field: str) -> list[dict[str, Any]]:
    """The 422's errors about `field`, each with a message (the answer must be JSON)."""
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    named = [error for error in errors if field in error["loc"]]
    assert named, errors
    assert all(error["msg"] for error in named)
    return named


# --- integers: every id, limit and offset stops at bigint ------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/api/v1/alerts?offset={TOO_BIG}", "offset"),
        (f"/api/v1/alerts?elder_id={TOO_BIG}", "elder_id"),
        (f"/api/v1/alerts?district_id={TOO_BIG}", "district_id"),
        (f"/api/v1/alerts/{TOO_BIG}", "alert_id"),
        (f"/api/v1/elders/{TOO_BIG}", "elder_id"),
        (f"/api/v1/elders/{TOO_BIG}/activity", "elder_id"),
        (f"/api/v1/contacts/{TOO_BIG}", "contact_id"),
        (f"/api/v1/policies/{TOO_BIG}", "policy_id"),
        (f"/api/v1/districts/{TOO_BIG}", "district_id"),
        (f"/api/v1/devices?elder_id={TOO_BIG}", "elder_id"),
        (f"/api/v1/audit?limit={TOO_BIG}", "limit"),
        (f"/api/v1/alerts?offset={-1}", "offset"),
    ],
)
def test_integers_past_bigint_answer_422(
    client: TestClient, world: World, auth: Auth, path: str, field: str
) -> None:
    response = client.get(path, headers=auth(world.usernames["admin"]))
    errors_naming(response, field)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/elders", {"community_id": TOO_BIG}),
        ("/api/v1/devices", {"elder_id": TOO_BIG, "device_id": "btn-big", "device_type": "pir"}),
        ("/api/v1/contacts", {"kind": "family", "elder_id": TOO_BIG}),
    ],
)
def test_body_ids_past_bigint_answer_422(
    client: TestClient, world: World, auth: Auth, path: str, body: dict[str, Any]
) -> None:
    full = {"name": "测试", "phone": "13800138000", "home": {"address": "测试路1号"}, **body}
    response = client.post(path, json=full, headers=auth(world.usernames["admin"]))
    field = next(name for name in body if name.endswith("_id") and body[name] == TOO_BIG)
    errors_naming(response, field)


def _integer_schemas(schema: dict[str, Any], components: dict[str, Any]) -> Iterator[Any]:
    """Every integer in a JSON schema, following $refs into the components."""
    if "$ref" in schema:
        yield from _integer_schemas(components[schema["$ref"].rsplit("/", 1)[-1]], components)
        return
    if schema.get("type") == "integer":
        yield schema
    for key in ("anyOf", "allOf", "oneOf"):
        for sub in schema.get(key, []):
            yield from _integer_schemas(sub, components)
    for sub in schema.get("properties", {}).values():
        yield from _integer_schemas(sub, components)
    if isinstance(schema.get("items"), dict):
        yield from _integer_schemas(schema["items"], components)


def _within_bigint(integer: dict[str, Any]) -> bool:
    # Body schemas publish bounds as floats (9.223372036854776e18): compare as floats.
    low, high = integer.get("minimum"), integer.get("maximum")
    if not isinstance(low, int | float) or not isinstance(high, int | float):
        return False
    return -float(BIGINT_MAX) <= low <= high <= float(BIGINT_MAX)


def test_every_integer_the_api_accepts_is_bounded(client: TestClient) -> None:
    """Catches the next parameter or body field declared as a bare `int`."""
    spec = client.get("/openapi.json").json()
    components = spec["components"]["schemas"]
    unbounded = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            schemas = [(p["name"], p["schema"]) for p in operation.get("parameters", [])]
            for content in operation.get("requestBody", {}).get("content", {}).values():
                schemas.append(("body", content["schema"]))
            for name, schema in schemas:
                for integer in _integer_schemas(schema, components):
                    if not _within_bigint(integer):
                        unbounded.append(f"{method.upper()} {path} {name}: {integer}")
    assert not unbounded, unbounded


@pytest.mark.parametrize(
    "path", ["/api/v1/devices/btn%00x", "/api/v1/devices/btn%00x/readings?field=battery"]
)
def test_a_device_id_that_cannot_be_one_answers_422(
    client: TestClient, world: World, auth: Auth, path: str
) -> None:
    """NUL reached PostgreSQL (found by the hostile-value sweep of tests/fuzz)."""
    errors_naming(client.get(path, headers=auth(world.usernames["admin"])), "device_id")


@pytest.mark.parametrize(
    ("path", "field"),
    [("/api/v1/audit?entity=a%00b", "entity"), ("/api/v1/alerts?rule=%00", "rule")],
)
def test_nul_in_a_text_query_answers_422(
    client: TestClient, world: World, auth: Auth, path: str, field: str
) -> None:
    errors_naming(client.get(path, headers=auth(world.usernames["admin"])), field)


@pytest.mark.parametrize("field", ["username", "password"])
def test_nul_in_the_sign_in_form_answers_422(client: TestClient, field: str) -> None:
    form = {"username": "someone", "password": "whatever-it-is"}
    form[field] = "a\x00b"
    errors_naming(client.post("/api/v1/auth/token", data=form), field)


# --- numbers that are not numbers --------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_birth_year_answers_422(
    client: TestClient, world: World, auth: Auth, literal: str
) -> None:
    body = (
        f'{{"community_id": {world.communities["east"]}, "name": "测试老人",'
        f' "birth_year": {literal}, "home": {{"address": "东胜区测试路1号"}}}}'
    )
    response = client.post(
        "/api/v1/elders",
        content=body,
        headers={**auth(world.usernames["admin"]), "Content-Type": "application/json"},
    )
    errors_naming(response, "birth_year")


# --- text that cannot be stored ----------------------------------------------------------

LONE_SURROGATE = '"\\ud800x"'  # JSON text for a string holding a lone surrogate


@pytest.mark.parametrize(
    ("path_of", "body_of", "field"),
    [
        (
            lambda w: "/api/v1/elders",
            lambda w, s: (
                f'{{"community_id": {w.communities["east"]}, "name": {s},'
                ' "home": {"address": "东胜区测试路1号"}}'
            ),
            "name",
        ),
        (
            lambda w: "/api/v1/elders",
            lambda w, s: (
                f'{{"community_id": {w.communities["east"]}, "name": "测试",'
                f' "home": {{"address": {s}}}}}'
            ),
            "address",
        ),
        (
            lambda w: f"/api/v1/contacts/{w.contacts['east_a']}",
            lambda w, s: f'{{"relation": {s}}}',
            "relation",
        ),
        (
            lambda w: "/api/v1/districts",
            lambda w, s: f'{{"name": {s}}}',
            "name",
        ),
    ],
)
def test_lone_surrogates_answer_422(
    client: TestClient,
    world: World,
    auth: Auth,
    path_of: Callable[[World], str],
    body_of: Callable[[World, str], str],
    field: str,
) -> None:
    path = path_of(world)
    method = client.patch if "contacts/" in path else client.post
    response = method(
        path,
        content=body_of(world, LONE_SURROGATE),
        headers={**auth(world.usernames["admin"]), "Content-Type": "application/json"},
    )
    [error] = errors_naming(response, field)
    assert "UTF-8" in error["msg"], error


# --- PATCH: null clears where the column may be empty, and is a 422 elsewhere -----------


def _patch_bodies(client: TestClient) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every PATCH operation of the API: its path and the JSON schema of its body."""
    spec = client.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        if "patch" in methods:
            content = methods["patch"]["requestBody"]["content"]["application/json"]
            name = content["schema"]["$ref"].rsplit("/", 1)[-1]
            yield path, spec["components"]["schemas"][name]


def _admits_null(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or any(_admits_null(s) for s in schema.get("anyOf", []))


def test_every_patch_field_answers_null_with_422_or_clears_it(
    client: TestClient, world: World, auth: Auth
) -> None:
    """Catches the next PATCH route or field. The published schema is the contract: a field
    whose schema admits null is cleared by it (the answer shows null); any other answers a
    422 naming it; nothing gives a 5xx."""
    admin = auth(world.usernames["admin"])
    objects = {
        "/api/v1/elders/{elder_id}": f"/api/v1/elders/{world.elders['east_b']}",
        "/api/v1/contacts/{contact_id}": f"/api/v1/contacts/{world.contacts['east_b']}",
        "/api/v1/devices/{device_id}": f"/api/v1/devices/{world.devices['east_b']}",
    }
    bodies = dict(_patch_bodies(client))
    assert set(bodies) == set(objects), "a new PATCH route: give it an object to patch here"
    cleared = 0
    for template, body in bodies.items():
        for name, schema in body["properties"].items():
            response = client.patch(objects[template], json={name: None}, headers=admin)
            if _admits_null(schema):  # the answer names the field as the body does
                assert response.status_code == 200, (template, name, response.text)
                assert response.json()[name] is None, (template, name, response.text)
                cleared += 1
            else:
                [error] = errors_naming(response, name)
                assert "leave it out" in error["msg"], error
    assert cleared >= 4  # the elder's birth year, phone, ID card; the device's room


def test_patch_bodies_are_patch_models(client: TestClient) -> None:
    """The rule above lives in one base class; a PATCH body that skips it would skip it."""
    for path, body in _patch_bodies(client):
        model = getattr(schemas, body["title"], None)
        assert isinstance(model, type) and issubclass(model, Patch), path


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ("contact", "name"),
        ("contact", "phone"),
        ("device", "model"),
        ("device", "heartbeat_interval_s"),
        ("elder", "name"),
        ("elder", "health_notes"),
        ("elder", "presence"),
    ],
)
def test_null_for_a_required_column_answers_422(
    client: TestClient, world: World, auth: Auth, target: str, field: str
) -> None:
    path = {
        "contact": f"/api/v1/contacts/{world.contacts['east_a']}",
        "device": f"/api/v1/devices/{world.devices['east_a']}",
        "elder": f"/api/v1/elders/{world.elders['east_a']}",
    }[target]
    response = client.patch(path, json={field: None}, headers=auth(world.usernames["admin"]))
    errors_naming(response, field)


def test_null_clears_an_elders_phone_and_birth_year(
    client: TestClient, world: World, auth: Auth
) -> None:
    admin = auth(world.usernames["admin"])
    path = f"/api/v1/elders/{world.elders['east_a']}"
    set_ = client.patch(path, json={"phone": "13912345678", "birth_year": 1946}, headers=admin)
    assert set_.status_code == 200, set_.text
    cleared = client.patch(path, json={"phone": None, "birth_year": None}, headers=admin)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["phone"] is None and cleared.json()["birth_year"] is None
    assert client.get(path, headers=admin).json()["name"] == set_.json()["name"]
