"""Ids inside request bodies are in the actor's scope, all of them, by one mechanism.

The list of id fields is not written here: it is read from the OpenAPI document (every
`*_id` / `*_ids` property of every request body, nested ones included). A new id field
that the schemas do not declare fails `test_every_body_id_is_declared`; a declared one
on a route without an example body below fails the refusal test for every role.
"""

import copy
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from pydantic import BaseModel

from api.app import create_app
from core.settings import Settings
from device_registry.access import PERMISSIONS, Role
from tests.support.api_alerts import OTHER_WORKER, Staff, add_staff
from tests.support.body_ids import ANY, BodyIdField, body_id_fields
from tests.support.world import PASSWORD, World

Auth = Callable[[str], dict[str, str]]
MISSING = 2_000_000_000  # no such row: what "outside the scope" means for an admin


def _spec() -> dict[str, Any]:
    app = create_app(Settings(database_url="postgresql://nobody@127.0.0.1/none"), None, None)  # type: ignore[arg-type]
    return app.openapi()


FIELDS = body_id_fields(_spec())
REFERENCES = [f for f in FIELDS if f.references is not None]


# --- every id field is declared ---------------------------------------------------------


# Ids that name no object of ours, each with the reason.
NOT_OURS = {
    # OAuth 2's password form (RFC 6749): a client's own name, which sign-in ignores
    "POST /api/v1/auth/token client_id",
    # a device's own id at its carrier platform (CTWing deviceId, IoTDA device_id): text
    # the platform assigned, naming nothing of ours; a second device claiming it is a 409
    "POST /api/v1/devices platform_device_id",
    "PATCH /api/v1/devices/{device_id} platform_device_id",
}


def test_every_body_id_is_declared() -> None:
    undeclared = [str(f) for f in FIELDS if not f.declared and str(f) not in NOT_OURS]
    assert not undeclared, (
        "declare what these ids are in device_registry.schemas (an *Ref type from "
        f"device_registry.references, or NewDeviceId): {undeclared}"
    )
    # the two scenarios that paged people of another district are among them
    assert {str(f) for f in REFERENCES} >= {
        "POST /api/v1/policies levels.*.targets.*.contact_id",
        "PUT /api/v1/policies/{policy_id} levels.*.targets.*.contact_id",
        "POST /api/v1/contacts user_id",
    }


def test_the_completeness_check_sees_a_new_undeclared_id() -> None:
    """The check above reads the OpenAPI document: a nested id without a declaration
    is found, wherever it hides."""

    class Slot(BaseModel):
        room_id: int

    class Booking(BaseModel):
        slots: list[Slot]
        helper_ids: list[int] | None = None

    app = FastAPI()

    @app.post("/bookings")
    def book(body: Booking) -> None: ...

    found = {str(f): f.declared for f in body_id_fields(app.openapi())}
    assert found == {"POST /bookings helper_ids": False, "POST /bookings slots.*.room_id": False}


# --- every declared id is checked against the actor's scope -----------------------------


@pytest.fixture(scope="module")
def staff(pool: ConnectionPool, world: World) -> Staff:
    return add_staff(pool, world)


@pytest.fixture(scope="module")
def other_user(pool: ConnectionPool, staff: Staff) -> int:
    """A community worker's account in 康巴什区."""
    with pool.connection() as conn:
        row = conn.execute("SELECT id FROM users WHERE username = %s", (OTHER_WORKER,)).fetchone()
    assert row is not None
    return int(row[0])


# Per route: the permission its service requires and example bodies whose ids are all in
# the scope of the east district's staff (a policy in a path is east_a's).
Example = Callable[[World], dict[str, Any]]
ROUTES: dict[tuple[str, str], tuple[tuple[str, str], list[Example]]] = {
    ("POST", "/api/v1/elders"): (
        ("elders", "create"),
        [
            lambda w: {
                "community_id": w.communities["east"],
                "name": "赵玉兰",
                "home": {"address": "东胜区铁西路1号"},
            }
        ],
    ),
    ("POST", "/api/v1/contacts"): (
        ("contacts", "write"),
        [
            lambda w: {
                "kind": "family",
                "name": "女儿",
                "phone": "+8613912345678",
                "elder_id": w.elders["east_a"],
                "user_id": None,
            },
            lambda w: {
                "kind": "community_worker",
                "name": "网格员",
                "phone": "+8613912345679",
                "community_id": w.communities["east"],
            },
            lambda w: {
                "kind": "supervisor",
                "name": "值班主任",
                "phone": "+8613912345670",
                "district_id": w.districts["east"],
            },
        ],
    ),
    ("POST", "/api/v1/devices"): (
        ("devices", "register"),
        [
            lambda w: {
                "device_id": "smoke-scope",
                "device_type": "smoke",
                "elder_id": w.elders["east_a"],
            }
        ],
    ),
    ("POST", "/api/v1/policies"): (
        ("policies", "write"),
        [
            lambda w: {
                "name": "跨区",
                "severity": "warning",
                "district_id": w.districts["east"],
                "levels": _levels(w),
            },
            lambda w: {
                "name": "跨区",
                "severity": "warning",
                "elder_id": w.elders["east_a"],
                "levels": _levels(w),
            },
        ],
    ),
    ("PUT", "/api/v1/policies/{policy_id}"): (
        ("policies", "write"),
        [lambda w: {"name": "个人策略", "levels": _levels(w)}],
    ),
    ("POST", "/api/v1/users"): (
        ("users", "write"),
        [
            lambda w: {
                "username": "scope-worker",
                "password": PASSWORD,
                "role": "community_worker",
                "district_ids": [w.districts["east"]],
            },
            lambda w: {
                "username": "scope-family",
                "password": PASSWORD,
                "role": "family",
                "elder_ids": [w.elders["east_a"]],
            },
        ],
    ),
}


def _levels(world: World) -> list[dict[str, Any]]:
    targets = [{"contact_id": world.contacts["east_a"]}, {"role": "community_worker"}]
    return [{"targets": targets, "channels": ["sms"], "timeout_s": 180}]


# An id of each resource outside each role's scope: staff look after 东胜区, the family
# member 王秀英 (east_a) only; for an admin, nothing is outside but what does not exist.
def outside(resource: str, role: Role, world: World, other_user: int) -> int:
    if role is Role.ADMIN:
        return MISSING
    family = role is Role.FAMILY
    return {
        "elder": world.elders["east_b" if family else "kbs"],
        "community": world.communities["kbs"],
        "district": world.districts["kbs"],
        "contact": world.contacts["east_b" if family else "kbs"],
        "user": other_user,
    }[resource]


def _body_with(field: BodyIdField, world: World) -> dict[str, Any]:
    assert (field.method, field.path) in ROUTES, f"add an example body for {field} to ROUTES"
    for example in ROUTES[(field.method, field.path)][1]:
        body = example(world)
        if _has(body, field.field):
            return body
    raise AssertionError(f"no example body in ROUTES has {field}")


def _has(node: Any, path: tuple[str, ...]) -> bool:
    if not path:
        return True
    head, rest = path[0], path[1:]
    if head == ANY:
        return isinstance(node, list) and bool(node) and _has(node[0], rest)
    return isinstance(node, dict) and head in node and _has(node[head], rest)


def _replace(body: dict[str, Any], path: tuple[str, ...], value: int) -> list[str | int]:
    """Puts `value` at the field's first place in the body; the location it took."""
    node: Any = body
    loc: list[str | int] = []
    for part in path[:-1]:
        key: str | int = 0 if part == ANY else part
        node = node[key]
        loc.append(key)
    last = path[-1]
    if isinstance(node[last], list):  # an `*_ids` list: its first id
        node[last][0] = value
        return [*loc, last, 0]
    node[last] = value
    return [*loc, last]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("field", REFERENCES, ids=str)
def test_a_body_id_outside_the_scope_is_refused(
    client: TestClient,
    auth: Auth,
    world: World,
    other_user: int,
    field: BodyIdField,
    role: Role,
) -> None:
    permission, _ = ROUTES.get((field.method, field.path), (None, []))
    body = copy.deepcopy(_body_with(field, world))
    assert field.references is not None
    loc = _replace(body, field.field, outside(field.references, role, world, other_user))
    path = field.path.format(policy_id=world.policies["east_a"])
    response = client.request(field.method, path, json=body, headers=auth(world.usernames[role]))
    assert permission is not None
    if role not in PERMISSIONS[permission]:
        assert response.status_code == 403, response.text
        return
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", *loc], error
    assert "not found" in error["msg"]


# --- the two scenarios, in the words of the people who met them ---------------------------


def test_an_operator_cannot_name_another_districts_contact_as_a_policy_target(
    client: TestClient, auth: Auth, world: World
) -> None:
    levels = [
        {"targets": [{"contact_id": world.contacts["kbs"]}], "channels": ["sms"], "timeout_s": 60}
    ]
    headers = auth(world.usernames["operator"])
    created = client.post(
        "/api/v1/policies",
        headers=headers,
        json={
            "name": "越区",
            "severity": "maintenance",
            "district_id": world.districts["east"],
            "levels": levels,
        },
    )
    assert created.status_code == 422, created.text
    assert created.json()["detail"][0]["loc"] == ["body", "levels", 0, "targets", 0, "contact_id"]
    replaced = client.put(
        f"/api/v1/policies/{world.policies['east_a']}",
        headers=headers,
        json={"name": "越区", "levels": levels},
    )
    assert replaced.status_code == 422, replaced.text
    kept = client.get(f"/api/v1/policies/{world.policies['east_a']}", headers=headers).json()
    assert world.contacts["kbs"] not in [
        t.get("contact_id") for level in kept["levels"] for t in level["targets"]
    ]


def test_a_contact_cannot_be_linked_to_another_districts_account(
    client: TestClient, auth: Auth, world: World, other_user: int
) -> None:
    response = client.post(
        "/api/v1/contacts",
        headers=auth(world.usernames["operator"]),
        json={
            "kind": "family",
            "name": "邻居",
            "phone": "+8613912340000",
            "elder_id": world.elders["east_a"],
            "user_id": other_user,
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "user_id"]
    assert response.json()["detail"][0]["msg"] == f"user {other_user} not found"
