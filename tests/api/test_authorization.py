"""Authorisation matrix: every role against every endpoint family, on a target it looks
after ("own") and one it does not ("other"). Generated from the single table below.

- a role that may not use an endpoint family at all answers 403;
- an allowed role reaching outside its districts (staff) or its elder (family) answers
  404 (or 422 when the outside thing is named in the body), so nobody learns it exists;
- admins see everything.
Every successful write must leave an audit row naming the user who made it.
"""

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from tests.support.api_alerts import open_alert
from tests.support.world import World, critical_levels

ADMIN, OPERATOR, INSTALLER, WORKER, FAMILY = (
    "admin",
    "operator",
    "installer",
    "community_worker",
    "family",
)
EVERYONE = frozenset({ADMIN, OPERATOR, INSTALLER, WORKER, FAMILY})
STAFF = EVERYONE - {FAMILY}

Body = Callable[[World, str], dict[str, Any]] | None


@dataclass(frozen=True)
class Endpoint:
    family: str
    method: str
    path: str  # {elder} {device} {contact} {policy} {district} name the target's objects
    allowed: frozenset[str]
    body: Body = None
    scoped: bool = True  # False: no "other" target (e.g. the audit log)

    @property
    def writes(self) -> bool:
        return self.method != "GET"


def _device(world: World, target: str) -> dict[str, Any]:
    return {
        "device_id": f"smoke-{uuid.uuid4().hex[:10]}",
        "device_type": "smoke",
        "elder_id": world.elders[target],
        "room": "厨房",
    }


ENDPOINTS = [
    Endpoint("districts.read", "GET", "/districts/{district}", STAFF),
    Endpoint("elders.list", "GET", "/elders", EVERYONE, scoped=False),
    Endpoint("elders.read", "GET", "/elders/{elder}", EVERYONE),
    Endpoint(
        "elders.update",
        "PATCH",
        "/elders/{elder}",
        frozenset({ADMIN, OPERATOR, WORKER}),
        body=lambda w, t: {"presence": "home"},
    ),
    Endpoint("contacts.read", "GET", "/contacts/{contact}", EVERYONE - {INSTALLER}),
    Endpoint("contacts.of_elder", "GET", "/elders/{elder}/contacts", EVERYONE - {INSTALLER}),
    Endpoint(
        "contacts.create",
        "POST",
        "/contacts",
        frozenset({ADMIN, OPERATOR, WORKER}),
        body=lambda w, t: {
            "kind": "family",
            "name": "女儿",
            "phone": "+8613912345678",
            "elder_id": w.elders[t],
            "relation": "女儿",
            "priority": 2,
        },
    ),
    Endpoint("devices.read", "GET", "/devices/{device}", EVERYONE),
    Endpoint(
        "devices.register",
        "POST",
        "/devices",
        frozenset({ADMIN, OPERATOR, INSTALLER}),
        body=_device,
    ),
    Endpoint(
        "devices.check",
        "POST",
        "/devices/{device}/installation-check",
        frozenset({ADMIN, OPERATOR, INSTALLER}),
        body=lambda w, t: {"minutes": 5},
    ),
    Endpoint("devices.readings", "GET", "/devices/{device}/readings?field=battery", EVERYONE),
    Endpoint(
        "elders.activity",
        "GET",
        "/elders/{elder}/activity",
        frozenset({ADMIN, OPERATOR, WORKER, FAMILY}),
    ),
    Endpoint("overview.read", "GET", "/overview", frozenset({ADMIN, OPERATOR}), scoped=False),
    Endpoint(
        "reports.monthly",
        "GET",
        "/reports/monthly?month=2026-11",
        frozenset({ADMIN, OPERATOR}),
        scoped=False,
    ),
    Endpoint("policies.read", "GET", "/policies/{policy}", frozenset({ADMIN, OPERATOR, WORKER})),
    Endpoint(
        "policies.replace",
        "PUT",
        "/policies/{policy}",
        frozenset({ADMIN, OPERATOR}),
        body=lambda w, t: {"name": "个人策略", "levels": critical_levels()},
    ),
    # Alerts: each role acts on the kind it handles — installers on test alerts (of devices
    # being installed), everyone else on real ones (see ALERT_IS_TEST); a resolve gets a
    # fresh alert, since a resolved one answers 409.
    Endpoint("alerts.list", "GET", "/alerts", EVERYONE, scoped=False),
    Endpoint("alerts.read", "GET", "/alerts/{alert}", EVERYONE),
    Endpoint("alerts.ack", "POST", "/alerts/{alert}/ack", EVERYONE),
    Endpoint("alerts.on_site", "POST", "/alerts/{alert}/on-site", EVERYONE),
    Endpoint(
        "alerts.resolve",
        "POST",
        "/alerts/{alert}/resolve",
        EVERYONE,
        body=lambda w, t: {"outcome": "handled", "note": "矩阵"},
    ),
    Endpoint("users.list", "GET", "/users", frozenset({ADMIN}), scoped=False),
    Endpoint("audit.read", "GET", "/audit", frozenset({ADMIN}), scoped=False),
]

# Which elder is "own" and which is "other" for each role: family members look after
# east_a only (east_b is a stranger in the same district); staff the east district.
TARGETS = {
    ADMIN: ("east_a", "kbs"),
    OPERATOR: ("east_a", "kbs"),
    INSTALLER: ("east_b", "kbs"),
    WORKER: ("east_b", "kbs"),
    FAMILY: ("east_a", "east_b"),
}


# Installers handle test alerts only (and do not see real ones: 404, tested in
# test_alerts_api); family members never see test alerts.
ALERT_IS_TEST = {INSTALLER: True}


def expected(endpoint: Endpoint, role: str, which: str) -> set[int]:
    if role not in endpoint.allowed:
        return {403}
    if which == "other" and role != ADMIN:
        return {404, 422}
    return {200, 201}


CASES = [
    pytest.param(endpoint, role, which, id=f"{endpoint.family}-{role}-{which}")
    for endpoint, role, which in itertools.product(ENDPOINTS, sorted(EVERYONE), ("own", "other"))
    if endpoint.scoped or which == "own"
]


def resolve(world: World, path: str, elder_key: str, alert: int | None = None) -> str:
    district = "kbs" if elder_key == "kbs" else "east"
    return "/api/v1" + path.format(
        elder=world.elders[elder_key],
        device=world.devices[elder_key],
        contact=world.contacts[elder_key],
        policy=world.policies[elder_key],
        district=world.districts[district],
        alert=alert,
    )


@pytest.mark.parametrize(("endpoint", "role", "which"), CASES)
def test_authorisation_matrix(
    client: TestClient,
    world: World,
    auth: Callable[[str], dict[str, str]],
    database_url: str,
    pool: ConnectionPool,
    endpoint: Endpoint,
    role: str,
    which: str,
) -> None:
    own, other = TARGETS[role]
    target = own if which == "own" else other
    request: dict[str, Any] = {"headers": auth(world.usernames[role])}
    if endpoint.body is not None:
        request["json"] = endpoint.body(world, target)
    alert = None
    if "{alert}" in endpoint.path:  # the open one, or a new one if the last was resolved
        alert = open_alert(pool, world, target, test=ALERT_IS_TEST.get(role, False))
    path = resolve(world, endpoint.path, target, alert)
    response = client.request(endpoint.method, path, **request)
    assert response.status_code in expected(endpoint, role, which), response.text
    if endpoint.writes and response.is_success:
        assert last_audit_actor(database_url) == world.usernames[role]


def last_audit_actor(database_url: str) -> str:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT actor FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    assert row is not None
    return str(row[0])


def test_every_write_endpoint_family_is_in_the_matrix(client: TestClient) -> None:
    """A new write route must be added to ENDPOINTS (or listed here with a reason)."""
    covered_elsewhere = {
        ("POST", "/api/v1/auth/token"),  # signing in: test_registry_api
        ("POST", "/api/v1/auth/logout"),
        # one's own password, any role (needs the current one): test_password_strength
        ("POST", "/api/v1/auth/password"),
        ("POST", "/api/v1/districts"),  # admin-only setup: test_registry_api
        ("POST", "/api/v1/districts/{district_id}/communities"),
        ("POST", "/api/v1/elders"),
        ("DELETE", "/api/v1/elders/{elder_id}"),
        ("POST", "/api/v1/elders/{elder_id}/rooms"),
        ("PATCH", "/api/v1/contacts/{contact_id}"),
        ("DELETE", "/api/v1/contacts/{contact_id}"),
        ("PATCH", "/api/v1/devices/{device_id}"),
        ("POST", "/api/v1/devices/{device_id}/decommission"),
        ("POST", "/api/v1/policies"),
        ("DELETE", "/api/v1/policies/{policy_id}"),
        ("POST", "/api/v1/users"),
        # Twilio's webhooks: signed by Twilio, not a signed-in user; test_webhooks
        ("POST", "/api/v1/webhooks/twilio/sms/{notification_id}/status"),
        ("POST", "/api/v1/webhooks/twilio/sms/inbound"),
        ("POST", "/api/v1/webhooks/twilio/voice/{notification_id}"),
        ("POST", "/api/v1/webhooks/twilio/voice/{notification_id}/status"),
    }
    in_matrix = {(e.method, "/api/v1" + e.path.split("{")[0]) for e in ENDPOINTS if e.writes}
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method in operations:
            key = (method.upper(), path)
            if method == "get" or key in covered_elsewhere:
                continue
            assert (key[0], path.split("{")[0]) in in_matrix, f"{key} is not in the matrix"
