"""The native contract: `nuanxin/v1/{device_id}/telemetry|event|status` (docs/device-contract.md).

One message in, at most one decoded message out: a `Reading`, `Event` or `Status`, or a
`Rejected` naming the quarantine reason and the field at fault. `cmd` is what the platform
publishes to devices, so it is ignored (an empty list), never quarantined.
"""

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from core.types import EventKind
from ingest.adapters.directory import DeviceDirectory
from ingest.adapters.fields import (
    EVENT_TYPES,
    SENSOR_FIELDS,
    FieldError,
    Parse,
    SensorField,
    describe,
    text,
)
from ingest.adapters.payload import Quarantine, load_object, parse_ts, reject, window_error
from ingest.messages import Decoded, DeviceInfo, Event, QuarantineReason, Reading, Status

PREFIX: Final = "nuanxin/v1/"
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{3,64}")
IGNORED_KINDS: Final = frozenset({"cmd"})

msg_id_field = text(128)
firmware_field = text(64)
STATES: Final[Mapping[str, bool]] = MappingProxyType({"online": True, "offline": False})
EVENT_KINDS: Final[Mapping[str, EventKind]] = MappingProxyType(
    {kind.value: kind for kind in EventKind}
)
ENVELOPE: Final = frozenset({"msg_id", "ts"})


def decode(
    topic: str, payload: bytes, received_at: datetime, directory: DeviceDirectory
) -> list[Decoded]:
    """Decode one native message; never raises on bad input."""
    parts = topic.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}/" != PREFIX:
        return [
            reject(
                topic,
                payload,
                QuarantineReason.BAD_TOPIC,
                "not nuanxin/v1/{id}/{kind}",
                received_at,
            )
        ]
    device_id, kind = parts[2], parts[3]
    if kind in IGNORED_KINDS:
        return []
    known_id = device_id if DEVICE_ID.fullmatch(device_id) else None
    parse = KINDS.get(kind)
    if known_id is None or parse is None:
        detail = f"unknown kind {kind!r}" if known_id else f"invalid device_id {device_id!r}"
        return [
            reject(topic, payload, QuarantineReason.BAD_TOPIC, detail[:200], received_at, known_id)
        ]
    try:
        body = load_object(payload)
        device = directory.by_id(device_id)
        if device is None:
            raise Quarantine(QuarantineReason.UNKNOWN_DEVICE, f"no registered device {device_id}")
        return [parse(body, device, received_at)]
    except Quarantine as problem:
        return [problem.rejected(topic, payload, received_at, device_id)]


def _reading(body: dict[str, Any], device: DeviceInfo, received_at: datetime) -> Reading:
    msg_id, ts = _envelope(body, received_at)
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in body.items():
        spec = SENSOR_FIELDS.get(key)
        if spec is not None:
            values[key] = _sensor(key, value, spec, device)
        elif key not in ENVELOPE:
            extra[key] = value  # unknown keys are kept, not rejected: firmware moves ahead
    return Reading(device.device_id, ts, msg_id, received_at, **values, extra=extra or None)


def _sensor(key: str, value: Any, spec: SensorField, device: DeviceInfo) -> Any:
    if device.device_type not in spec.types:
        raise Quarantine(
            QuarantineReason.WRONG_TYPE, f"{key}: a {device.device_type} device has no {key}"
        )
    return _field(key, value, spec.parse)


def _event(body: dict[str, Any], device: DeviceInfo, received_at: datetime) -> Event:
    msg_id, ts = _envelope(body, received_at)
    kind = _field("event", _required(body, "event"), _event_kind)
    if device.device_type not in EVENT_TYPES[kind]:
        raise Quarantine(
            QuarantineReason.WRONG_TYPE, f"event: a {device.device_type} device cannot send {kind}"
        )
    detail = body.get("detail", {})
    if not isinstance(detail, dict):
        raise Quarantine(
            QuarantineReason.SCHEMA, f"detail: expected an object, got {describe(detail)}"
        )
    return Event(device.device_id, ts, msg_id, received_at, kind, detail)


def _event_kind(value: Any) -> EventKind:
    if type(value) is str and value in EVENT_KINDS:
        return EVENT_KINDS[value]
    raise FieldError(f"expected one of {', '.join(EventKind)}, got {describe(value)}")


def _status(body: dict[str, Any], device: DeviceInfo, received_at: datetime) -> Status:
    online = _field("state", _required(body, "state"), _state)
    # No window: a retained status may rightly be weeks old when ingest (re)subscribes.
    ts = _field("ts", body["ts"], parse_ts) if body.get("ts") is not None else None
    fw = body.get("fw")
    firmware = _field("fw", fw, firmware_field) if fw is not None else None
    return Status(device.device_id, online, received_at, ts, firmware)


def _state(value: Any) -> bool:
    if type(value) is str and value in STATES:
        return STATES[value]
    raise FieldError(f'expected "online" or "offline", got {describe(value)}')


def _envelope(body: dict[str, Any], received_at: datetime) -> tuple[str, datetime]:
    msg_id = _field("msg_id", _required(body, "msg_id"), msg_id_field)
    ts = _field("ts", _required(body, "ts"), parse_ts)
    problem = window_error(ts, received_at)
    if problem:
        raise Quarantine(QuarantineReason.TS_WINDOW, problem)
    return msg_id, ts


def _required(body: dict[str, Any], key: str) -> Any:
    if key not in body:
        raise Quarantine(QuarantineReason.SCHEMA, f"{key}: required")
    return body[key]


def _field(key: str, value: Any, parse: Parse) -> Any:
    try:
        return parse(value)
    except FieldError as error:
        raise Quarantine(QuarantineReason.SCHEMA, f"{key}: {error}") from None


KINDS: Final[Mapping[str, Callable[[dict[str, Any], DeviceInfo, datetime], Decoded]]] = (
    MappingProxyType({"telemetry": _reading, "event": _event, "status": _status})
)


class NativeAdapter:
    """`decode` bound to a directory, for the routing table."""

    def __init__(self, directory: DeviceDirectory) -> None:
        self._directory = directory

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Decoded]:
        return decode(topic, payload, received_at, self._directory)
