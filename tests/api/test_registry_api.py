"""The registry API: validation answers, conflicts, masking, sign-in and sign-out, the
audit trail of every write, and the installation check."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.support.world import PASSWORD, World, critical_levels

Auth = Callable[[str], dict[str, str]]


def test_sign_in_sign_out(client: TestClient, world: World) -> None:
    bad = client.post(
        "/api/v1/auth/token", data={"username": world.usernames["admin"], "password": "nope"}
    )
    assert bad.status_code == 401
    good = client.post(
        "/api/v1/auth/token", data={"username": world.usernames["admin"], "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {good.json()['access_token']}"}
    assert client.get("/api/v1/auth/me", headers=headers).json()["role"] == "admin"
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_no_token_answers_401_with_how_to_sign_in(client: TestClient) -> None:
    response = client.get("/api/v1/elders")
    assert response.status_code == 401
    assert "/api/v1/auth/token" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body_change", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"id_card": "15060219450312002"}, "id_card"),
        ({"birth_year": 1800}, "birth_year"),
        ({"presence": "moon"}, "presence"),
        ({"home": {"address": ""}}, "address"),
        ({"community_id": 999999}, "community_id"),
        ({"surprise": 1}, "surprise"),
        ({"name": "王\x00秀英"}, "name"),  # PostgreSQL text cannot hold NUL
    ],
)
def test_invalid_elder_answers_422_naming_the_field(
    client: TestClient, world: World, auth: Auth, body_change: dict[str, Any], field: str
) -> None:
    body = {
        "community_id": world.communities["east"],
        "name": "测试老人",
        "home": {"address": "东胜区测试路1号"},
        **body_change,
    }
    response = client.post("/api/v1/elders", json=body, headers=auth(world.usernames["admin"]))
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(field in error["loc"] for error in errors), errors
    assert all(error["msg"] for error in errors)


def test_phone_numbers_are_stored_in_e164(client: TestClient, world: World, auth: Auth) -> None:
    response = client.post(
        "/api/v1/contacts",
        headers=auth(world.usernames["admin"]),
        json={
            "kind": "community_worker",
            "name": "刘网格员",
            "phone": "139 1234 5678",
            "community_id": world.communities["east"],
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["phone"] == "+8613912345678"


def test_duplicate_device_id_answers_409(client: TestClient, world: World, auth: Auth) -> None:
    body = {
        "device_id": world.devices["east_a"],
        "device_type": "emergency_button",
        "elder_id": world.elders["east_a"],
    }
    response = client.post("/api/v1/devices", json=body, headers=auth(world.usernames["admin"]))
    assert response.status_code == 409
    assert "already registered" in response.json()["detail"]


def test_id_card_masked_for_all_but_admin(client: TestClient, world: World, auth: Auth) -> None:
    path = f"/api/v1/elders/{world.elders['east_a']}"
    assert client.get(path, headers=auth(world.usernames["admin"])).json()["id_card"] == (
        "150602194503120021"
    )
    for role in ("operator", "community_worker", "family", "installer"):
        assert client.get(path, headers=auth(world.usernames[role])).json()["id_card"] == (
            "150***********0021"
        )


def test_installers_do_not_read_health_notes(client: TestClient, world: World, auth: Auth) -> None:
    path = f"/api/v1/elders/{world.elders['east_a']}"
    assert (
        client.get(path, headers=auth(world.usernames["installer"])).json()["health_notes"] is None
    )
    assert (
        client.get(path, headers=auth(world.usernames["community_worker"])).json()["health_notes"]
        == "高血压, 独居"
    )


def test_elder_contacts_in_escalation_order(client: TestClient, world: World, auth: Auth) -> None:
    admin = auth(world.usernames["admin"])
    elder = world.elders["east_b"]
    for name, priority in (("二女儿", 2), ("大儿子", 1)):
        client.post(
            "/api/v1/contacts",
            headers=admin,
            json={
                "kind": "family",
                "name": name,
                "phone": "13700000000",
                "elder_id": elder,
                "priority": priority,
            },
        )
    client.post(
        "/api/v1/contacts",
        headers=admin,
        json={
            "kind": "supervisor",
            "name": "值班主任",
            "phone": "13600000000",
            "district_id": world.districts["east"],
        },
    )
    contacts = client.get(f"/api/v1/elders/{elder}/contacts", headers=admin).json()
    kinds = [c["kind"] for c in contacts]
    assert kinds == sorted(kinds, key=["community_worker", "family", "supervisor"].index)
    family = [c["name"] for c in contacts if c["kind"] == "family"]
    assert family.index("大儿子") < family.index("二女儿")


def audit_rows_since(database_url: str, first_id: int) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT actor, action FROM audit_log WHERE id > %s ORDER BY id", (first_id,)
        ).fetchall()
    return [(str(actor), str(action)) for actor, action in rows]


def last_audit_id(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()
    assert row is not None
    return int(row[0])


def test_every_write_endpoint_leaves_an_audit_row(
    client: TestClient, world: World, auth: Auth, database_url: str
) -> None:
    """Walks through every write route once, as the admin, and reads the audit log."""
    admin = auth(world.usernames["admin"])
    tag = uuid.uuid4().hex[:6]
    ids: dict[str, Any] = {}

    def call(method: str, path: str, body: dict[str, Any] | None, action: str) -> Any:
        before = last_audit_id(database_url)
        response = client.request(method, "/api/v1" + path.format(**ids), json=body, headers=admin)
        assert response.is_success, (method, path, response.text)
        assert (world.usernames["admin"], action) in audit_rows_since(database_url, before)
        return response.json() if response.status_code != 204 else None

    ids["district"] = call("POST", "/districts", {"name": f"准格尔旗{tag}"}, "district.create")[
        "id"
    ]
    ids["community"] = call(
        "POST", "/districts/{district}/communities", {"name": "薛家湾社区"}, "community.create"
    )["id"]
    ids["elder"] = call(
        "POST",
        "/elders",
        {"community_id": ids["community"], "name": "赵大爷", "home": {"address": "薛家湾镇1号"}},
        "elder.create",
    )["id"]
    call("PATCH", "/elders/{elder}", {"presence": "hospital"}, "elder.update")
    call("POST", "/elders/{elder}/rooms", {"name": "卧室"}, "room.create")
    ids["contact"] = call(
        "POST",
        "/contacts",
        {"kind": "family", "name": "赵女士", "phone": "13512345678", "elder_id": ids["elder"]},
        "contact.create",
    )["id"]
    call("PATCH", "/contacts/{contact}", {"priority": 3}, "contact.update")
    call("DELETE", "/contacts/{contact}", None, "contact.delete")
    ids["policy"] = call(
        "POST",
        "/policies",
        {
            "name": "默认",
            "severity": "critical",
            "district_id": ids["district"],
            "levels": critical_levels(),
        },
        "policy.create",
    )["id"]
    call(
        "PUT", "/policies/{policy}", {"name": "默认2", "levels": critical_levels()}, "policy.update"
    )
    call("DELETE", "/policies/{policy}", None, "policy.delete")
    ids["device"] = call(
        "POST",
        "/devices",
        {"device_id": f"pir-{tag}", "device_type": "pir", "elder_id": ids["elder"]},
        "device.register",
    )["device_id"]
    call("PATCH", "/devices/{device}", {"room": "卧室", "maintenance": True}, "device.update")
    call("POST", "/devices/{device}/installation-check", {"minutes": 5}, "device.check_open")
    call("POST", "/devices/{device}/decommission", None, "device.decommission")
    call("DELETE", "/elders/{elder}", None, "elder.delete")
    call(
        "POST",
        "/users",
        {
            "username": f"worker-{tag}",
            "password": "long enough pw",
            "role": "community_worker",
            "district_ids": [ids["district"]],
        },
        "user.create",
    )


def record_message(database_url: str, table: str, device_id: str, **values: Any) -> None:
    """Stand-in for ingest: what it stores when the device's message arrives."""
    columns = ["device_id", "ts", "msg_id", *values]
    placeholders = ", ".join(["%s"] * len(columns))
    now = datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
            [device_id, now, uuid.uuid4().hex, *values.values()],
        )


def test_installation_check_commissions_on_self_test(
    client: TestClient, world: World, auth: Auth, database_url: str
) -> None:
    installer = auth(world.usernames["installer"])
    device_id = f"gas-{uuid.uuid4().hex[:8]}"
    registered = client.post(
        "/api/v1/devices",
        headers=installer,
        json={
            "device_id": device_id,
            "device_type": "gas",
            "elder_id": world.elders["east_b"],
            "room": "厨房",
        },
    )
    assert registered.json()["state"] == "registered"
    opened = client.post(f"/api/v1/devices/{device_id}/installation-check", headers=installer)
    assert opened.json()["status"] == "waiting"
    assert opened.json()["missing"] == ["status online", "telemetry", "self_test"]

    record_message(database_url, "readings", device_id, gas=False, gas_lel=0.0)
    halfway = client.get(f"/api/v1/devices/{device_id}/installation-check", headers=installer)
    assert halfway.json()["arrived"] == ["telemetry"]
    assert halfway.json()["device_state"] == "registered"

    record_message(database_url, "events", device_id, event="self_test")
    done = client.get(f"/api/v1/devices/{device_id}/installation-check", headers=installer)
    assert done.json()["status"] == "passed"
    assert done.json()["device_state"] == "commissioned"
    assert "self_test" in done.json()["arrived"]
    device = client.get(f"/api/v1/devices/{device_id}", headers=installer).json()
    assert device["state"] == "commissioned"


def test_silent_device_stays_registered(
    client: TestClient, world: World, auth: Auth, database_url: str
) -> None:
    installer = auth(world.usernames["installer"])
    device_id = f"btn-{uuid.uuid4().hex[:8]}"
    client.post(
        "/api/v1/devices",
        headers=installer,
        json={
            "device_id": device_id,
            "device_type": "emergency_button",
            "elder_id": world.elders["east_b"],
        },
    )
    client.post(
        f"/api/v1/devices/{device_id}/installation-check", headers=installer, json={"minutes": 1}
    )
    with psycopg.connect(database_url) as conn:  # the installer waited past the deadline
        conn.execute(
            "UPDATE installation_checks SET opened_at = opened_at - interval '2 minutes',"
            " expires_at = expires_at - interval '2 minutes' WHERE device_id = %s",
            (device_id,),
        )
    check = client.get(f"/api/v1/devices/{device_id}/installation-check", headers=installer)
    assert check.json()["status"] == "expired"
    assert check.json()["device_state"] == "registered"
    assert check.json()["missing"] == ["status online", "telemetry", "button_press"]
    assert check.json()["arrived"] == []
