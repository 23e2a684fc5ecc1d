"""Typed messages the adapters produce from MQTT bytes. Past the adapters, nothing in
ingest handles raw JSON: the writer stores these, the quarantine keeps `Rejected`."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.types import DeviceType, EventKind


class QuarantineReason(StrEnum):
    """Why a message was quarantined; stored in `quarantine.reason` and counted in metrics."""

    BAD_TOPIC = "bad_topic"  # topic outside the contract, or an invalid device_id in it
    TOO_LARGE = "too_large"  # payload over 16 KiB
    BAD_JSON = "bad_json"  # not UTF-8 JSON, or not a JSON object
    SCHEMA = "schema"  # a field missing, of the wrong type or out of range
    UNKNOWN_DEVICE = "unknown_device"  # no registered device for the id / friendly name
    WRONG_TYPE = "wrong_type"  # a field or event the device's type does not have
    TS_WINDOW = "ts_window"  # ts > 24 h in the future or > 30 days in the past


@dataclass(frozen=True, slots=True)
class Reading:
    """One telemetry message; a reading with no sensor field is a heartbeat."""

    device_id: str
    ts: datetime
    msg_id: str
    received_at: datetime
    battery: int | None = None
    battery_low: bool | None = None
    rssi: int | None = None
    temperature: float | None = None
    tamper: bool | None = None
    smoke: bool | None = None
    smoke_density: float | None = None
    gas: bool | None = None
    gas_lel: float | None = None
    motion: bool | None = None
    illuminance: float | None = None
    extra: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Event:
    device_id: str
    ts: datetime
    msg_id: str
    received_at: datetime
    event: EventKind
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Status:
    """Online/offline from a status message, a will, or Zigbee2MQTT availability."""

    device_id: str
    online: bool
    received_at: datetime
    ts: datetime | None = None
    firmware: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    topic: str
    payload: bytes
    reason: QuarantineReason
    detail: str
    received_at: datetime
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What an adapter needs to know of a registered device."""

    device_id: str
    device_type: DeviceType
    # The catalogue key of its model (core.catalog), or None for a model we do not know:
    # adapters then decode it with their generic table.
    model: str | None = None


Decoded = Reading | Event | Status | Rejected
