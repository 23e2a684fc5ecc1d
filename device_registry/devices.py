"""Devices: registration with MQTT credentials shown once, updates, decommissioning.

Credentials are created on the broker inside the registration transaction: if the
broker refuses, nothing is registered; if the database then fails, the caller's
rollback leaves an orphan broker account that re-registration replaces. Only devices
that speak MQTT themselves get one: a Zigbee device publishes through its gateway's
account and a device behind a carrier platform (CTWing, OneNET, IoTDA) through the
platform's push, where its platform id or IMEI names it.

Every registration and change is judged against the device catalogue
(device_registry.catalogue): refusals are 422s naming the field, and the answer carries
the warnings (open quirks, unknown model), which the audit row records too.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg

from core.errors import Conflict, InvalidRequest, NotFound, NuanxinError, ServiceUnavailable
from core.types import DeviceLifecycle
from device_registry import audit, catalogue, scope
from device_registry.access import Actor
from device_registry.catalogue import Registration
from device_registry.db import Row, fetch_all, fetch_one, set_clause
from device_registry.elders import ensure_room, visible_elder
from device_registry.schemas import (
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
       d.power_source, d.heartbeat_interval_s, d.zigbee_name, d.zigbee_ieee, d.platform,
       d.platform_device_id, d.imei, d.mitigations, d.created_at,
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
    return [public(row) for row in rows]


def get_device(conn: psycopg.Connection[Any], actor: Actor, device_id: str) -> DevicePublic:
    actor.require("devices", "read")
    return public(visible_device(conn, actor, device_id))


def public(row: Row) -> DevicePublic:
    """A device as the API shows it, with what the catalogue says about its model."""
    registration = Registration.of(row)
    model = registration.catalogued
    return DevicePublic(
        **row,
        catalogue_key=model.key if model else None,
        warnings=catalogue.warnings(registration),
    )


def _require_consistent(registration: Registration, before: Registration | None = None) -> None:
    """Refuse, naming the field, what the catalogue says cannot work. A change is judged
    on the device it leaves and refused only for what it brings: a device stored before
    a check existed can still be moved to another room."""
    known = catalogue.problems(before) if before else []
    for problem in catalogue.problems(registration):
        if problem not in known:
            raise InvalidRequest(problem.message, field=problem.field)


def register_device(
    conn: psycopg.Connection[Any],
    actor: Actor,
    data: DeviceRegister,
    provisioner: CredentialProvisioner,
) -> DeviceRegistered:
    actor.require("devices", "register")
    scope.check_body(conn, actor, data)
    registration = Registration.of(data.model_dump())
    _require_consistent(registration)
    home_id = visible_elder(conn, actor, data.elder_id)["home_id"]
    room_id = ensure_room(conn, home_id, data.room) if data.room else None
    _insert(conn, data, registration, home_id, room_id)
    mqtt = None
    if registration.has_own_account:
        mqtt = MqttCredentials(
            username=data.device_id,
            password=_provision(provisioner, data),
            topic_prefix=TOPIC_PREFIX.format(device_id=data.device_id),
        )
    device = public(visible_device(conn, actor, data.device_id))
    detail = {"type": data.device_type, "warnings": [w.message for w in device.warnings]}
    audit.record(conn, actor, "device.register", "device", data.device_id, detail)
    return DeviceRegistered(**device.model_dump(), mqtt=mqtt)


def _insert(
    conn: psycopg.Connection[Any],
    data: DeviceRegister,
    registration: Registration,
    home_id: int,
    room_id: int | None,
) -> None:
    power = (
        data.power_source
        if "power_source" in data.model_fields_set
        else catalogue.default_power(registration)
    )
    heartbeat = data.heartbeat_interval_s or catalogue.default_heartbeat_s(registration, power)
    row = {
        "device_id": data.device_id,
        "device_type": data.device_type,
        "home_id": home_id,
        "room_id": room_id,
        "model": data.model,
        "serial": data.serial,
        "power_source": power,
        "heartbeat_interval_s": heartbeat,
        "zigbee_name": data.zigbee_name,
        "zigbee_ieee": data.zigbee_ieee.lower() if data.zigbee_ieee else None,
        "platform": data.platform,
        "platform_device_id": data.platform_device_id,
        "imei": data.imei,
        "mitigations": data.mitigations,
    }
    with _unique_or_conflict(), conn.transaction():
        conn.execute(
            f"INSERT INTO devices ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
            list(row.values()),
        )


# Unique constraint of the devices table → what a duplicate of it is called.
DUPLICATES = {
    "devices_pkey": "device_id",
    "devices_zigbee_name_key": "zigbee name",
    "devices_zigbee_ieee_key": "zigbee address",
    "devices_platform_device_unique": "platform device id on this platform",
    "devices_platform_imei_unique": "IMEI on this platform",
}


@contextmanager
def _unique_or_conflict() -> Iterator[None]:
    """A duplicate answers 409 naming what is taken (the savepoint keeps the caller's
    transaction usable)."""
    try:
        yield
    except psycopg.errors.UniqueViolation as exc:
        what = DUPLICATES.get(exc.diag.constraint_name or "", "device_id or zigbee address")
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
    _require_consistent(Registration.of({**device, **changes}), Registration.of(device))
    if "room" in data.model_fields_set:  # null: no named room
        changes["room_id"] = data.room and ensure_room(conn, device["home_id"], data.room)
    if data.maintenance is not None:
        changes["state"] = _maintenance_state(device, data.maintenance)
    if changes:
        clause, params = set_clause(changes)
        with _unique_or_conflict(), conn.transaction():
            conn.execute(f"UPDATE devices SET {clause} WHERE device_id = %s", [*params, device_id])
    updated = get_device(conn, actor, device_id)
    detail = {
        "fields": sorted(data.model_fields_set),
        "warnings": [w.message for w in updated.warnings],
    }
    audit.record(conn, actor, "device.update", "device", device_id, detail)
    return updated


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
    if Registration.of(device).has_own_account:
        try:
            provisioner.revoke_device(device_id)
        except NuanxinError as exc:
            raise ServiceUnavailable(f"could not revoke the MQTT account: {exc}") from exc
    return get_device(conn, actor, device_id)
