"""Registering devices as they are deployed, through the real API and database: carrier
platform identities (CTWing, OneNET, IoTDA), the catalogue's refusals naming the field
to fix, its warnings (open quirks, unknown models) in the answer and the audit log, and
the installation check of a device whose proof arrives through a platform."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from core import catalog
from core.types import DeviceType, EventKind
from device_registry.provisioning import BrokerAdmin
from ingest import writer
from ingest.directory import DatabaseDirectory
from ingest.messages import Event, Reading, Status
from tests.support.world import World

Auth = Callable[[str], dict[str, str]]

_HS1CG_E = catalog.lookup("HS1CG-E")
assert _HS1CG_E is not None
HS1CG_E: catalog.Model = _HS1CG_E
assert HS1CG_E is not None and HS1CG_E.quirks, "the catalogue's HS1CG-E row and its quirk"
GAS_BIT_QUIRK = HS1CG_E.quirks[0].code


def imei(serial: int) -> str:
    """A valid IMEI (Luhn check digit) from a TAC of a common NB-IoT module."""
    body = f"86{serial:012d}"[:14]
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char) * (1 if position % 2 else 2)
        total += digit - 9 if digit > 9 else digit
    return body + str((10 - total % 10) % 10)


def mistyped(number: str) -> str:
    """The IMEI with its check digit off by one, as a slip of the finger leaves it."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def register(
    client: TestClient, world: World, auth: Auth, role: str = "installer", **fields: Any
) -> Any:
    body = {"elder_id": world.elders["east_b"], "device_type": "smoke", **fields}
    body.setdefault("device_id", unique_id(str(body["device_type"])[:3]))
    return client.post("/api/v1/devices", json=body, headers=auth(world.usernames[role]))


def audit_detail(database_url: str, device_id: str, action: str) -> dict[str, Any]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT detail FROM audit_log WHERE entity = 'device' AND entity_id = %s"
            " AND action = %s ORDER BY id DESC LIMIT 1",
            (device_id, action),
        ).fetchone()
    assert row is not None
    return dict(row[0])


# --- carrier platforms -----------------------------------------------------------------


def test_a_ctwing_device_registers_with_its_imei_and_gets_no_mqtt_account(
    client: TestClient, world: World, auth: Auth, provisioner: BrokerAdmin, database_url: str
) -> None:
    number = imei(1001)
    response = register(
        client, world, auth, platform="ctwing", imei=number, platform_device_id=f"1500{number}"
    )
    assert response.status_code == 201, response.text
    device = response.json()
    assert device["mqtt"] is None
    assert (device["platform"], device["imei"]) == ("ctwing", number)
    assert device["platform_device_id"] == f"1500{number}"
    clients = {c.get("username") for c in provisioner.list_clients()}
    assert device["device_id"] not in clients
    # ingest's directory finds the device by either identity the platform may send
    directory = DatabaseDirectory(lambda: psycopg.connect(database_url, autocommit=True))
    for identity in (number, f"1500{number}"):
        found = directory.by_platform("ctwing", identity)
        assert found is not None and found.device_id == device["device_id"]


@pytest.mark.parametrize(
    ("fields", "at_fault", "says"),
    [
        ({"platform": "ctwing"}, "platform", "platform_device_id or imei"),
        ({"imei": imei(7)}, "imei", "give platform"),
        ({"platform_device_id": "abc123"}, "platform_device_id", "give platform"),
        ({"platform": "onenet", "imei": "86000000000000"}, "imei", "15 digits"),
        ({"platform": "onenet", "imei": mistyped(imei(7))}, "imei", "Luhn"),
        ({"platform": "mqtt", "imei": imei(7)}, "platform", "ctwing"),
        (
            {"platform": "ctwing", "imei": imei(8), "zigbee_name": "客厅/烟感"},
            "platform",
            "not both",
        ),
        (
            {"device_type": "smoke", "model": "HS1CG-E", "zigbee_name": "厨房/燃气"},
            "device_type",
            "gas",
        ),
        ({"device_type": "gas", "model": "HS1CG-E"}, "zigbee_name", "zigbee2mqtt"),
        (
            {"device_type": "gas", "model": "HS1CG-E", "platform": "ctwing", "imei": imei(9)},
            "platform",
            "zigbee2mqtt",
        ),
        (
            {"device_type": "gas", "model": "HS1CG", "zigbee_name": "g", "mitigations": ["x"]},
            "mitigations",
            "no known quirks",
        ),
        ({"mitigations": ["z2m-external-converter-gas-bit1"]}, "mitigations", "not in the"),
    ],
)
def test_a_registration_that_cannot_work_answers_422_saying_what_to_fix(
    client: TestClient,
    world: World,
    auth: Auth,
    fields: dict[str, Any],
    at_fault: str,
    says: str,
) -> None:
    response = register(client, world, auth, **fields)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(at_fault in error["loc"] and says in error["msg"] for error in errors), errors


def test_a_model_of_the_wrong_kind_is_refused_naming_both(
    client: TestClient, world: World, auth: Auth
) -> None:
    response = register(
        client, world, auth, device_type="emergency_button", model="HS1CG-E", zigbee_name="x"
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert "gas" in error["msg"] and "emergency_button" in error["msg"], error


def test_a_taken_platform_id_or_imei_answers_409_and_registers_nothing(
    client: TestClient, world: World, auth: Auth, database_url: str
) -> None:
    number = imei(2002)
    first = register(client, world, auth, platform="iotda", imei=number, platform_device_id="p-1")
    assert first.status_code == 201, first.text
    cases = (
        ({"imei": number}, "IMEI"),
        ({"platform_device_id": "p-1"}, "platform device id"),
    )
    for identity, what in cases:
        again = register(
            client, world, auth, device_id=f"copy-{what[:4]}", platform="iotda", **identity
        )
        assert again.status_code == 409, again.text
        assert what in again.json()["detail"]
    with psycopg.connect(database_url) as conn:
        copies = conn.execute(
            "SELECT count(*) FROM devices WHERE device_id LIKE 'copy-%'"
        ).fetchone()
    assert copies == (0,)
    # the same module on another platform is another registration
    elsewhere = register(client, world, auth, platform="onenet", imei=number)
    assert elsewhere.status_code == 201, elsewhere.text


def test_a_change_cannot_leave_a_platform_device_without_its_id(
    client: TestClient, world: World, auth: Auth
) -> None:
    installer = auth(world.usernames["installer"])
    device = register(client, world, auth, platform="onenet", imei=imei(3003)).json()
    path = f"/api/v1/devices/{device['device_id']}"
    cleared = client.patch(path, json={"imei": None}, headers=installer)
    assert cleared.status_code == 422, cleared.text
    assert "platform" in cleared.json()["detail"][0]["loc"]
    corrected = client.patch(path, json={"imei": imei(3004)}, headers=installer)
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["imei"] == imei(3004)
    native = register(client, world, auth).json()
    given = client.patch(
        f"/api/v1/devices/{native['device_id']}", json={"imei": imei(3005)}, headers=installer
    )
    assert given.status_code == 422 and "imei" in given.json()["detail"][0]["loc"]


# --- warnings --------------------------------------------------------------------------


def test_a_model_with_an_open_quirk_is_registered_with_its_warning_until_mitigated(
    client: TestClient, world: World, auth: Auth, database_url: str
) -> None:
    response = register(
        client, world, auth, device_type="gas", model="HS1CG-E", zigbee_name=unique_id("厨房")
    )
    assert response.status_code == 201, response.text
    device = response.json()
    [warning] = device["warnings"]
    assert (warning["kind"], warning["code"]) == ("open_quirk", GAS_BIT_QUIRK)
    assert "deploy/zigbee2mqtt/heiman-hs1cg-e.js" in warning["message"]
    assert GAS_BIT_QUIRK in warning["message_zh"] and "处理办法" in warning["message_zh"]
    # the Chinese line is the quirk's Chinese text, not the English sentences again
    assert HS1CG_E.quirks[0].summary_zh in warning["message_zh"]
    assert HS1CG_E.quirks[0].mitigation_zh in warning["message_zh"]
    assert HS1CG_E.quirks[0].summary not in warning["message_zh"]
    assert "deploy/zigbee2mqtt/heiman-hs1cg-e.js" in warning["message_zh"]
    assert device["catalogue_key"] == "heiman-hs1cg-e"
    # the model's defaults: a mains-powered gas detector reports like a mains device
    assert (device["power_source"], device["heartbeat_interval_s"]) == ("mains", 300)
    audited = audit_detail(database_url, device["device_id"], "device.register")
    assert audited["warnings"] == [warning["message"]]

    path = f"/api/v1/devices/{device['device_id']}"
    installer = auth(world.usernames["installer"])
    assert client.get(path, headers=installer).json()["warnings"] == [warning]
    mitigated = client.patch(path, json={"mitigations": [GAS_BIT_QUIRK]}, headers=installer)
    assert mitigated.status_code == 200, mitigated.text
    assert mitigated.json()["warnings"] == []
    assert mitigated.json()["mitigations"] == [GAS_BIT_QUIRK]


def test_a_mitigated_quirk_is_registered_without_warning(
    client: TestClient, world: World, auth: Auth
) -> None:
    response = register(
        client,
        world,
        auth,
        device_type="gas",
        model="GASSensor-EM",  # the Zigbee model id names the same row
        zigbee_ieee="0x00124b00226a1f01",
        mitigations=[GAS_BIT_QUIRK],
    )
    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == []


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"model": "HS1MS", "zigbee_name": "卧室/人感", "device_type": "pir"}, "generic"),
        ({"model": "JTY-GD-H361"}, "not in the device catalogue"),
        ({"platform": "ctwing", "imei": imei(4004)}, "no alert"),
    ],
)
def test_a_model_the_catalogue_does_not_know_is_registered_with_a_warning(
    client: TestClient,
    world: World,
    auth: Auth,
    database_url: str,
    fields: dict[str, Any],
    says: str,
) -> None:
    response = register(client, world, auth, **fields)
    assert response.status_code == 201, response.text
    [warning] = response.json()["warnings"]
    assert warning["kind"] == "unknown_model" and says in warning["message"], warning
    assert warning["message_zh"]
    audited = audit_detail(database_url, response.json()["device_id"], "device.register")
    assert audited["warnings"] == [warning["message"]]


def test_a_native_device_without_a_model_needs_no_warning(
    client: TestClient, world: World, auth: Auth
) -> None:
    response = register(client, world, auth)
    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == []
    assert response.json()["heartbeat_interval_s"] == catalog.KINDS[DeviceType.SMOKE].heartbeat_s


# --- the installation check through the platform path ----------------------------------


def test_a_platform_device_is_commissioned_by_its_proof_through_the_ingest_writer(
    client: TestClient, world: World, auth: Auth, database_url: str
) -> None:
    installer = auth(world.usernames["installer"])
    device = register(
        client, world, auth, device_type="smoke", platform="ctwing", imei=imei(5005)
    ).json()
    device_id = device["device_id"]
    opened = client.post(f"/api/v1/devices/{device_id}/installation-check", headers=installer)
    assert opened.json()["missing"] == ["status online", "telemetry", "self_test"]

    # what the CTWing path stores for the detector's online report and its test alarm
    now = datetime.now(UTC)
    push = f"ctwing:{uuid.uuid4().hex}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        writer.prepare(conn)
        writer.write_batch(
            conn,
            [
                Status(device_id, True, now, now),
                Reading(device_id, now, push, now, battery=90, extra={"Alarm_Status": 14}),
                Event(device_id, now, f"{push}:Alarm_Status", now, EventKind.SELF_TEST),
            ],
        )
    done = client.get(f"/api/v1/devices/{device_id}/installation-check", headers=installer)
    assert done.json()["status"] == "passed", done.json()
    assert done.json()["arrived"] == ["status online", "telemetry", "self_test"]
    assert client.get(f"/api/v1/devices/{device_id}", headers=installer).json()["state"] == (
        "commissioned"
    )


# --- who sees an IMEI ------------------------------------------------------------------


def test_an_imei_is_whole_for_installers_and_masked_for_responders_and_family(
    client: TestClient, world: World, auth: Auth
) -> None:
    number = imei(6006)
    device = register(
        client,
        world,
        auth,
        role="admin",
        elder_id=world.elders["east_a"],
        platform="ctwing",
        imei=number,
    ).json()
    path = f"/api/v1/devices/{device['device_id']}"
    seen = {
        role: client.get(path, headers=auth(world.usernames[role])).json()["imei"]
        for role in ("operator", "installer", "community_worker", "family")
    }
    masked = f"{number[:4]}*******{number[-4:]}"
    assert seen == {
        "operator": number,
        "installer": number,
        "community_worker": masked,
        "family": masked,
    }


# --- the catalogue -----------------------------------------------------------------------


def test_the_catalogue_lists_kinds_and_models_for_those_who_register_devices(
    client: TestClient, world: World, auth: Auth
) -> None:
    for role in ("admin", "operator", "installer"):
        answer = client.get("/api/v1/catalogue", headers=auth(world.usernames[role]))
        assert answer.status_code == 200, answer.text
    kinds = {k["device_type"]: k for k in answer.json()["kinds"]}
    assert set(kinds) == {str(t) for t in catalog.KINDS}
    assert kinds["emergency_button"]["proof_event"] == "button_press"
    models = {m["key"]: m for m in answer.json()["models"]}
    assert set(models) == {m.key for m in catalog.MODELS}
    hs1cg_e = models["heiman-hs1cg-e"]
    assert (hs1cg_e["kind"], hs1cg_e["transport"]) == ("gas", "zigbee2mqtt")
    assert [q["code"] for q in hs1cg_e["quirks"]] == [GAS_BIT_QUIRK]
    [quirk] = hs1cg_e["quirks"]
    assert quirk["summary_zh"] == HS1CG_E.quirks[0].summary_zh and "燃气" in quirk["summary_zh"]
    assert quirk["mitigation_zh"] == HS1CG_E.quirks[0].mitigation_zh
    for role in ("community_worker", "family"):
        refused = client.get("/api/v1/catalogue", headers=auth(world.usernames[role]))
        assert refused.status_code == 403
