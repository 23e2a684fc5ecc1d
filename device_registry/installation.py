"""Installation checks: an installer proves a device works before it protects anyone.

The installer opens a check; the device must then send its proof event (the
catalogue's: a self-test, a press for emergency buttons) before the check expires. The
verdict is derived from stored messages, so it holds whether ingest or an API call looks
first, and whichever path the proof came by: MQTT, Zigbee2MQTT or a carrier platform's
push, all of which store through the one ingest writer.
"""

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import psycopg

from core.catalog import KINDS
from core.errors import Conflict, NotFound
from core.types import DeviceLifecycle, DeviceType, EventKind
from device_registry import audit
from device_registry.access import Actor, system_actor
from device_registry.catalogue import proof_event
from device_registry.db import Row, fetch_one
from device_registry.devices import visible_device
from device_registry.schemas import CheckOpen, CheckStatus, InstallationCheck

# What proves each kind of device works, as the catalogue says (core.catalog.Kind);
# the alert engine asks it before treating a proof as an alarm.
PROOF_EVENT: Mapping[DeviceType, EventKind] = MappingProxyType(
    {device_type: kind.proof_event for device_type, kind in KINDS.items()}
)

# What the check looks for, in the order an installer sees it happen.
EVIDENCE_SQL = """
SELECT
  EXISTS (SELECT 1 FROM device_state WHERE device_id = %(device)s AND online
          AND last_seen_at BETWEEN %(opened)s AND %(expires)s) AS status_online,
  EXISTS (SELECT 1 FROM readings WHERE device_id = %(device)s
          AND received_at BETWEEN %(opened)s AND %(expires)s) AS telemetry,
  (SELECT min(received_at) FROM events WHERE device_id = %(device)s AND event = %(proof)s
          AND received_at BETWEEN %(opened)s AND %(expires)s) AS proof_at
"""


def open_check(
    conn: psycopg.Connection[Any], actor: Actor, device_id: str, data: CheckOpen
) -> InstallationCheck:
    actor.require("devices", "check")
    device = visible_device(conn, actor, device_id)
    if device["state"] == DeviceLifecycle.DECOMMISSIONED:
        raise Conflict(f"device {device_id} is decommissioned")
    row = fetch_one(
        conn,
        "INSERT INTO installation_checks (device_id, opened_by, expires_at)"
        " VALUES (%s, %s, now() + %s) RETURNING id",
        (device_id, actor.user_id, timedelta(minutes=data.minutes)),
    )
    assert row is not None
    audit.record(conn, actor, "device.check_open", "device", device_id, {"check_id": row["id"]})
    return get_check(conn, actor, device_id)


def get_check(conn: psycopg.Connection[Any], actor: Actor, device_id: str) -> InstallationCheck:
    actor.require("devices", "check")
    device = visible_device(conn, actor, device_id)
    check = _latest(conn, device_id)
    if check is None:
        raise NotFound(f"no installation check was opened for device {device_id}")
    return _evaluate(conn, device, check)


def evaluate_latest_check(conn: psycopg.Connection[Any], device_id: str) -> bool:
    """Commission the device if its open check now has its proof; for ingest to call on
    a proof event so the installer's screen changes without waiting for a poll."""
    device = fetch_one(conn, "SELECT * FROM devices WHERE device_id = %s", (device_id,))
    check = _latest(conn, device_id)
    if device is None or check is None:
        return False
    return _evaluate(conn, device, check).status is CheckStatus.PASSED


def _latest(conn: psycopg.Connection[Any], device_id: str) -> Row | None:
    return fetch_one(
        conn,
        "SELECT id, opened_at, expires_at, passed_at, now() > expires_at AS expired"
        " FROM installation_checks WHERE device_id = %s ORDER BY opened_at DESC, id DESC"
        " LIMIT 1 FOR UPDATE",
        (device_id,),
    )


def _evaluate(conn: psycopg.Connection[Any], device: Row, check: Row) -> InstallationCheck:
    # The catalogue says what proves a device works (Kind.proof_event, or its model's).
    proof = proof_event(DeviceType(device["device_type"]), device["model"])
    evidence = fetch_one(
        conn,
        EVIDENCE_SQL,
        {
            "device": device["device_id"],
            "opened": check["opened_at"],
            "expires": check["expires_at"],
            "proof": proof.value,
        },
    )
    assert evidence is not None
    state = DeviceLifecycle(device["state"])
    if check["passed_at"] is None and evidence["proof_at"] is not None:
        check["passed_at"] = evidence["proof_at"]
        state = _commission(conn, device["device_id"], check)
    found = {
        "status online": evidence["status_online"],
        "telemetry": evidence["telemetry"],
        proof.value: check["passed_at"] is not None,
    }
    return InstallationCheck(
        id=check["id"],
        device_id=device["device_id"],
        status=_status(check),
        device_state=state,
        opened_at=check["opened_at"],
        expires_at=check["expires_at"],
        passed_at=check["passed_at"],
        arrived=[name for name, seen in found.items() if seen],
        missing=[name for name, seen in found.items() if not seen],
    )


def _status(check: Row) -> CheckStatus:
    if check["passed_at"] is not None:
        return CheckStatus.PASSED
    return CheckStatus.EXPIRED if check["expired"] else CheckStatus.WAITING


def _commission(conn: psycopg.Connection[Any], device_id: str, check: Row) -> DeviceLifecycle:
    conn.execute(
        "UPDATE installation_checks SET passed_at = %s WHERE id = %s",
        (check["passed_at"], check["id"]),
    )
    conn.execute(
        "UPDATE devices SET state = 'commissioned', commissioned_at = %s"
        " WHERE device_id = %s AND state IN ('registered', 'maintenance')",
        (check["passed_at"], device_id),
    )
    audit.record(
        conn, system_actor(), "device.commission", "device", device_id, {"check_id": check["id"]}
    )
    row = fetch_one(conn, "SELECT state FROM devices WHERE device_id = %s", (device_id,))
    assert row is not None
    return DeviceLifecycle(row["state"])
