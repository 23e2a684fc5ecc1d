"""Personal data in every answer follows one table (device_registry.access.EXPOSURE):
for each kind of field, which roles see it whole, masked or not at all.

The fields are found in the OpenAPI document, not listed here: a response property
whose name says it carries a phone number, ID card, health note, address, destination
or provider text must declare its kind (`x-personal`), every declared kind must be in
the table, and every schema that holds one must be reachable from a probe below — so a
new field or a new answer fails here until it is classified. Each probe then asks the
real API as every role and compares each such value with what the table makes of the
admin's view of it."""

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from alerting.engine import utc_now
from alerting.planner import Channels
from api.views import PersonalDataRoute
from core.masking import FieldKind
from device_registry.access import EXPOSURE, PERMISSIONS, Exposure, Role
from device_registry.personal import exposed_value
from tests.support.api_alerts import WORKER_PHONE, add_staff, open_alert
from tests.support.world import World

Auth = Callable[[str], dict[str, str]]
ELDER_PHONE = "+8613912345678"
FAMILY_PHONE = "+8613800138000"

# Property names that say the value is personal data (or may quote it). A property
# named so must declare its kind.
SENSITIVE_NAME = re.compile(
    r"phone|mobile|tel(ephone)?$|id_?card|identity|health|address|access_notes|destination"
    r"|^to$|error|^detail$|^actor$|notes|imei|platform_device_id"
)
IMEI = "861234567890127"

# What each probe asks; {name} fields are filled from the seeded world.
PROBES = (
    "/elders/{elder}",
    "/elders",
    "/elders/{elder}/contacts",
    "/contacts",
    "/contacts/{contact}",
    "/alerts?elder_id={elder}",
    "/alerts/{alert}",
    "/reports/monthly?month={month}&district_id={district}",
    "/overview",
    "/audit",
    "/devices?elder_id={elder}",
    "/devices/{platform_device}",
)

# Answers that only a write returns, so no GET probes them: they are checked by rule
# instead. Every role that may make the write sees each personal kind in them whole.
WRITE_ONLY_ANSWERS = {"DeviceRegistered": ("devices", "register")}


# --- the OpenAPI document ---------------------------------------------------------------


def resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return resolve(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], spec)
    for union in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(union, []):
            resolved = resolve(option, spec)
            if resolved.get("type") in ("object", "array"):
                return resolved
    return schema


def referenced(schema: Any, spec: dict[str, Any], seen: set[str]) -> set[str]:
    """Names of every component schema reachable from `schema`."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref is not None:
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                referenced(spec["components"]["schemas"][name], spec, seen)
        for value in schema.values():
            referenced(value, spec, seen)
    elif isinstance(schema, list):
        for value in schema:
            referenced(value, spec, seen)
    return seen


def response_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    concrete = "/api/v1" + path.split("?")[0]
    for candidate, operations in spec["paths"].items():
        pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(candidate))
        if re.fullmatch(pattern, concrete) and "get" in operations:
            content = operations["get"]["responses"]["200"]["content"]
            return dict(content["application/json"]["schema"])
    raise AssertionError(f"no GET {concrete} in the OpenAPI document")


def answer_schemas(spec: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for operations in spec["paths"].values():
        for operation in operations.values():
            for answer in operation.get("responses", {}).values():
                referenced(answer.get("content", {}), spec, names)
    return names - {"HTTPValidationError", "ValidationError"}


def personal_properties(spec: dict[str, Any], names: set[str]) -> Iterator[tuple[str, str, Any]]:
    for name in sorted(names):
        for prop, schema in spec["components"]["schemas"][name].get("properties", {}).items():
            yield name, prop, schema


@pytest.fixture(scope="module")
def spec(client: TestClient) -> dict[str, Any]:
    return dict(client.get("/openapi.json").json())


def test_every_personal_property_declares_a_kind_in_the_table(spec: dict[str, Any]) -> None:
    undeclared, unknown = [], []
    for name, prop, schema in personal_properties(spec, answer_schemas(spec)):
        kind = schema.get("x-personal")
        if kind is None and SENSITIVE_NAME.search(prop):
            undeclared.append(f"{name}.{prop}")
        elif kind is not None and kind not in {k.value for k in FieldKind}:
            unknown.append(f"{name}.{prop}: {kind}")
    assert not undeclared, f"declare these with device_registry.personal.personal(): {undeclared}"
    assert not unknown


def test_the_table_says_something_for_every_kind_and_role() -> None:
    for kind in FieldKind:
        assert set(EXPOSURE[kind]) == set(Role), kind
        assert EXPOSURE[kind][Role.ADMIN] is Exposure.WHOLE


def test_a_field_hidden_from_some_role_can_be_null(spec: dict[str, Any]) -> None:
    for name, prop, schema in personal_properties(spec, answer_schemas(spec)):
        kind = schema.get("x-personal")
        if kind and Exposure.HIDDEN in EXPOSURE[FieldKind(kind)].values():
            options = [option.get("type") for option in schema.get("anyOf", [])]
            assert "null" in options, f"{name}.{prop} must allow null"


def test_every_answer_with_personal_data_is_probed(spec: dict[str, Any]) -> None:
    holding = {
        name
        for name, _, schema in personal_properties(spec, answer_schemas(spec))
        if "x-personal" in schema
    }
    probed: set[str] = set()
    for path in PROBES:
        referenced(response_schema(spec, path), spec, probed)
    for name, (resource, action) in WRITE_ONLY_ANSWERS.items():
        properties = spec["components"]["schemas"][name]["properties"].values()
        kinds = {FieldKind(p["x-personal"]) for p in properties if "x-personal" in p}
        writers = PERMISSIONS[(resource, action)]
        assert all(EXPOSURE[k][r] is Exposure.WHOLE for k in kinds for r in writers), name
        probed.add(name)
    assert holding <= probed, f"add a probe returning {sorted(holding - probed)}"


def test_the_decisions_people_rely_on() -> None:
    """Whoever is called must be able to call: an on-call worker reaches the elder and the
    family; an installer finds the home; a family member calls their own elder."""
    whole = Exposure.WHOLE
    assert EXPOSURE[FieldKind.ELDER_PHONE][Role.COMMUNITY_WORKER] is whole
    assert EXPOSURE[FieldKind.CONTACT_PHONE][Role.COMMUNITY_WORKER] is whole
    assert EXPOSURE[FieldKind.ADDRESS][Role.INSTALLER] is whole
    assert EXPOSURE[FieldKind.ACCESS_NOTES][Role.INSTALLER] is whole
    assert EXPOSURE[FieldKind.ELDER_PHONE][Role.FAMILY] is whole
    assert EXPOSURE[FieldKind.ELDER_PHONE][Role.INSTALLER] is Exposure.MASKED
    assert EXPOSURE[FieldKind.CONTACT_PHONE][Role.FAMILY] is Exposure.MASKED
    assert EXPOSURE[FieldKind.HEALTH_NOTES][Role.INSTALLER] is Exposure.HIDDEN
    assert {r for r, e in EXPOSURE[FieldKind.ID_CARD].items() if e is whole} == {Role.ADMIN}


# --- the real API -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def probes(client: TestClient, auth: Auth, world: World, pool: ConnectionPool) -> list[str]:
    add_staff(pool, world)
    admin = auth(world.usernames["admin"])
    elder = world.elders["east_a"]
    patched = client.patch(f"/api/v1/elders/{elder}", json={"phone": ELDER_PHONE}, headers=admin)
    assert patched.status_code == 200, patched.text
    channels = Channels(sms_providers=frozenset({"twilio"}), voice=True)
    alert = open_alert(pool, world, "east_a", channels=channels)
    with pool.connection() as conn:  # what a provider answers quotes the number it refused
        conn.execute(
            "UPDATE notifications SET error = %s WHERE alert_id = %s",
            (f"21211: invalid 'To' number {FAMILY_PHONE}", alert),
        )
    device = client.post(  # a device behind a carrier platform: its IMEI is personal
        "/api/v1/devices",
        headers=admin,
        json={
            "device_id": "smk-nb-probe",
            "device_type": "smoke",
            "elder_id": elder,
            "platform": "ctwing",
            "imei": IMEI,
            "platform_device_id": f"15000001{IMEI}",
        },
    )
    assert device.status_code == 201, device.text
    values = {
        "platform_device": "smk-nb-probe",
        "elder": elder,
        "contact": world.contacts["east_a"],
        "alert": alert,
        "month": utc_now().strftime("%Y-%m"),
        "district": world.districts["east"],
    }
    return [path.format(**values) for path in PROBES]


def views(
    spec: dict[str, Any], schema: dict[str, Any], admin: Any, other: Any, where: str
) -> Iterator[tuple[str, FieldKind, Any, Any]]:
    """(where, kind, admin's value, other's value) of every personal value in an answer."""
    schema = resolve(schema, spec)
    if isinstance(admin, list) and isinstance(other, list):
        items = resolve(schema.get("items", {}), spec)
        for key, theirs in _keyed(other).items():
            mine = _keyed(admin).get(key)
            if mine is not None:
                yield from views(spec, items, mine, theirs, f"{where}[{key}]")
    elif isinstance(admin, dict) and isinstance(other, dict):
        for prop, sub in schema.get("properties", {}).items():
            kind = sub.get("x-personal")
            if kind is not None:
                yield f"{where}.{prop}", FieldKind(kind), admin.get(prop), other.get(prop)
            elif prop in admin and prop in other:
                yield from views(spec, sub, admin[prop], other[prop], f"{where}.{prop}")


def _keyed(items: list[Any]) -> dict[object, Any]:
    for key in ("id", "notification_id", "device_id"):
        if items and all(isinstance(item, dict) and key in item for item in items):
            return {item[key]: item for item in items}
    return dict(enumerate(items))


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_each_role_sees_each_personal_field_as_the_table_says(
    client: TestClient,
    auth: Auth,
    world: World,
    spec: dict[str, Any],
    probes: list[str],
    role: Role,
) -> None:
    admin, other = auth(world.usernames["admin"]), auth(world.usernames[role])
    checked, wrong = 0, []
    for path in probes:
        theirs = client.get(f"/api/v1{path}", headers=other)
        if theirs.status_code in (403, 404):
            continue  # not theirs to read at all: the authorisation tests' business
        assert theirs.status_code == 200, (path, theirs.text)
        mine = client.get(f"/api/v1{path}", headers=admin).json()
        for where, kind, whole, seen in views(
            spec, response_schema(spec, path), mine, theirs.json(), path
        ):
            checked += whole is not None
            expected = exposed_value(kind, role, whole)
            if seen != expected:
                wrong.append(f"{where} ({kind}): {seen!r}, the table says {expected!r}")
    assert not wrong, "\n".join(wrong)
    assert checked, "nothing personal was compared"


def test_the_seeded_values_are_the_ones_compared(
    client: TestClient, auth: Auth, world: World, probes: list[str]
) -> None:
    """The probes see real numbers, so the comparison above is not of empty fields."""
    admin = auth(world.usernames["admin"])
    elder = client.get(f"/api/v1{probes[0]}", headers=admin).json()
    assert elder["phone"] == ELDER_PHONE
    contacts = client.get(f"/api/v1{probes[2]}", headers=admin).json()
    assert {FAMILY_PHONE, WORKER_PHONE} <= {c["phone"] for c in contacts}
    worker = client.get(f"/api/v1{probes[0]}", headers=auth(world.usernames["installer"]))
    assert worker.json()["phone"] == "+86139****5678"
    device = client.get(f"/api/v1{probes[-1]}", headers=auth(world.usernames["family"]))
    assert device.json()["imei"] == "8612*******0127"


def included_routes(routes: list[Any]) -> Iterator[Any]:
    """Every route of the routers the app includes (FastAPI keeps them nested)."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from nested.routes
            yield from included_routes(nested.routes)


def test_every_api_route_shows_its_answer_to_its_reader(client: TestClient) -> None:
    """A router added without the route class would answer personal fields whole."""
    routes = [r for r in included_routes(client.app.routes) if isinstance(r, APIRoute)]  # type: ignore[attr-defined]
    assert len(routes) > 20
    assert [r.path for r in routes if not isinstance(r, PersonalDataRoute)] == []
