"""Devices: registration with MQTT credentials shown once, updates, decommissioning.

Credentials are created on the broker inside the registration transaction: if the
broker refuses, nothing is registered; if the database then fails, the caller's
rollback leaves an orphan broker account that re-registration replaces.
"""

from typing import Any, Protocol

import psycopg

from core.errors import Conflict, NotFound, NuanxinError, ServiceUnavailable
from core.types import DeviceLifecycle
from device_registry import audit, scope
from device_registry.access import Actor
from device_registry.db import Row, fetch_all, fetch_one, set_clause
from device_registry.elders import ensure_room, visible_elder
from device_registry.schemas import (
    DEFAULT_HEARTBEAT_S,
    DevicePublic,
    DeviceRegister,
    DeviceRegistered,
    DeviceUpdate,
    MqttCredentials,
)

TOPIC_PREFIX = "nuanxin/v1/{device_id}/"


class CredentialProvisioner(Protocol):
    """Creates and revokes a device's own broker account (Mosquitto dynamic security)."""

    def provision_device(self, device_id: str) -> str: ...

    def revoke_device(self, device_id: str) -> None: ...


DEVICE_SELECT = """
SELECT d.device_id, d.device_type, d.state, h.elder_id, r.name AS room, d.model, d.serial,
       d.power_source, d.heartbeat_interval_s, d.zigbee_name, d.zigbee_ieee, d.created_at,
       d.commissioned_at, d.decommissioned_at, d.home_id,
       s.online, s.last_seen_at, s.battery, s.rssi, c.district_id
FROM devices d
LEFT JOIN homes h ON h.id = d.home_id
LEFT JOIN elders e ON e.id = h.elder_id
LEFT JOIN communities c ON c.id = e.community_id
LEFT JOIN rooms r ON r.id = d.room_id
LEFT JOIN device_state s ON s.device_id = d.device_id
"""


def visible_device(conn: psycopg.Connection[Any], actor: Actor, device_id: str) -> Row:
    condition, params = actor.elder_filter("h.elder_id", "c.district_id")
    row = fetch_one(
        conn, f"{DEVICE_SELECT} WHERE d.device_id = %s AND {condition}", [device_id, *params]
    )
    if row is None:
        raise NotFound(f"device {device_id} not found")
    return row


def list_devices(
    conn: psycopg.Connection[Any], actor: Actor, elder_id: int | None = None
) -> list[DevicePublic]:
    actor.require("devices", "read")
    condition, params = actor.elder_filter("h.elder_id", "c.district_id")
    if elder_id is not None:
        condition, params = f"{condition} AND h.elder_id = %s", [*params, elder_id]
    rows = fetch_all(conn, f"{DEVICE_SELECT} WHERE {condition} ORDER BY d.created_at", params)
    return [DevicePublic(**row) for row in rows]


def get_device(conn: psycopg.Connection[Any], actor: Actor, device_id: str) -> DevicePublic:
    actor.require("devices", "read")
    return DevicePublic(**visible_device(conn, actor, device_id))


def register_device(
    conn: psycopg.Connection[Any],
    actor: Actor,
    data: DeviceRegister,
    provisioner: CredentialProvisioner,
) -> DeviceRegistered:
    actor.require("devices", "register")
    scope.check_body(conn, actor, data)
    home_id = visible_elder(conn, actor, data.elder_id)["home_id"]
    room_id = ensure_room(conn, home_id, data.room) if data.room else None
    _insert(conn, data, home_id, room_id)
    mqtt = None
    if not _behind_gateway(data.zigbee_name, data.zigbee_ieee):
        mqtt = MqttCredentials(
            username=data.device_id,
            password=_provision(provisioner, data),
            topic_prefix=TOPIC_PREFIX.format(device_id=data.device_id),
        )
    audit.record(
        conn, actor, "device.register", "device", data.device_id, {"type": data.device_type}
    )
    return DeviceRegistered(**visible_device(conn, actor, data.device_id), mqtt=mqtt)


def _behind_gateway(zigbee_name: str | None, zigbee_ieee: str | None) -> bool:
    """Zigbee devices reach the broker through their gateway's account, not their own."""
    return zigbee_name is not None or zigbee_ieee is not None


def _insert(
    conn: psycopg.Connection[Any], data: DeviceRegister, home_id: int, room_id: int | None
) -> None:
    heartbeat = data.heartbeat_interval_s or DEFAULT_HEARTBEAT_S[data.power_source]
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO devices (device_id, device_type, home_id, room_id, model, serial,"
                " power_source, heartbeat_interval_s, zigbee_name, zigbee_ieee)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    data.device_id,
                    data.device_type,
                    home_id,
                    room_id,
                    data.model,
                    data.serial,
                    data.power_source,
                    heartbeat,
                    data.zigbee_name,
                    data.zigbee_ieee.lower() if data.zigbee_ieee else None,
                ),
            )
    except psycopg.errors.UniqueViolation as exc:
        constraint = exc.diag.constraint_name or ""
        what = "zigbee name or address" if "zigbee" in constraint else "device_id"
        raise Conflict(f"a device with this {what} is already registered") from None


def _provision(provisioner: CredentialProvisioner, data: DeviceRegister) -> str:
    try:
        return provisioner.provision_device(data.device_id)
    except NuanxinError as exc:
        raise ServiceUnavailable(f"could not create the device's MQTT account: {exc}") from exc


def update_device(
    conn: psycopg.Connection[Any], actor: Actor, device_id: str, data: DeviceUpdate
) -> DevicePublic:
    actor.require("devices", "update")
    device = visible_device(conn, actor, device_id)
    scope.check_body(conn, actor, data)
    if device["state"] == DeviceLifecycle.DECOMMISSIONED:
        raise Conflict(f"device {device_id} is decommissioned")
    changes: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"room", "maintenance"})
    if "room" in data.model_fields_set:  # null: no named room
        changes["room_id"] = data.room and ensure_room(conn, device["home_id"], data.room)
    if data.maintenance is not None:
        changes["state"] = _maintenance_state(device, data.maintenance)
    if changes:
        clause, params = set_clause(changes)
        conn.execute(f"UPDATE devices SET {clause} WHERE device_id = %s", [*params, device_id])
    fields = sorted(data.model_fields_set)
    audit.record(conn, actor, "device.update", "device", device_id, {"fields": fields})
    return get_device(conn, actor, device_id)


def _maintenance_state(device: Row, maintenance: bool) -> DeviceLifecycle:
    if maintenance:
        return DeviceLifecycle.MAINTENANCE
    if device["commissioned_at"] is not None:
        return DeviceLifecycle.COMMISSIONED
    return DeviceLifecycle.REGISTERED


def decommission_device(
    conn: psycopg.Connection[Any],
    actor: Actor,
    device_id: str,
    provisioner: CredentialProvisioner,
) -> DevicePublic:
    actor.require("devices", "decommission")
    device = visible_device(conn, actor, device_id)
    if device["state"] == DeviceLifecycle.DECOMMISSIONED:
        raise Conflict(f"device {device_id} is already decommissioned")
    conn.execute(
        "UPDATE devices SET state = 'decommissioned', decommissioned_at = now()"
        " WHERE device_id = %s",
        (device_id,),
    )
    audit.record(conn, actor, "device.decommission", "device", device_id)
    if not _behind_gateway(device["zigbee_name"], device["zigbee_ieee"]):
        try:
            provisioner.revoke_device(device_id)
        except NuanxinError as exc:
            raise ServiceUnavailable(f"could not revoke the MQTT account: {exc}") from exc
    return get_device(conn, actor, device_id)
