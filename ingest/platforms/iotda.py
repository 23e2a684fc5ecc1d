"""Huawei Cloud IoTDA data-forwarding messages (the AMQP 1.0 channel) into our messages.

One AMQP message body is one JSON envelope:

    {"resource": "device.property" | "device.message" | "device.status",
     "event": "report" | "update", "event_time": "20151212T121212Z",
     "event_time_ms": "2015-12-12T12:12:12.000Z",   (optional)
     "request_id": "…",                              (optional)
     "notify_data": {"header": {"device_id", "node_id", "product_id", "gateway_id", …},
                     "body": …}}

- `device.property`: `body.services[]`, each `{service_id, properties, event_time}`; the
  properties are read through the device's catalogue model (`service_data.decode`), one
  Reading (+ Events) per service.
- `device.message`: `body.content`, a device's free-form message; a JSON object is read
  like properties, anything else is kept as a heartbeat with the content in `extra`.
- `device.status`: `body.status` ONLINE / OFFLINE / ABNORMAL / INACTIVE / FROZEN and
  `status_update_time`. Huawei's reference puts `body` inside `notify_data` (its schema
  table) but its example shows it beside `notify_data`; both are read.

The device is found by its IoTDA device id, or else by its node id (the IMEI, for an
NB-IoT module), among devices registered with platform `iotda`. The message id is the
envelope's `request_id`, or, when the platform sent none, a hash of the envelope
(`report_id`), so a redelivered message is stored once either way.

Pure and total: every body, whatever it holds, becomes a list of Decoded; what cannot be
used is a Rejected with a reason that says what is wrong.
"""

import contextlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from ingest.adapters.directory import DeviceDirectory
from ingest.adapters.fields import FieldError, describe
from ingest.adapters.payload import Quarantine, load_object, parse_ts, window_error
from ingest.messages import Decoded, DeviceInfo, QuarantineReason, Reading, Status
from ingest.platforms.service_data import Origin, decode, report_id

PLATFORM: Final = "iotda"
TOPIC: Final = "platform/iotda"  # the quarantine's `topic` for messages of this channel

# IoTDA's time format, e.g. 20151212T121212Z (UTC).
COMPACT_TIME = re.compile(r"\d{8}T\d{6}Z")

# What each device status means for `device_state.online`. INACTIVE (registered, never
# connected) and FROZEN (disabled in the console) are not reachable: offline.
ONLINE_BY_STATUS: Final[Mapping[str, bool]] = {
    "ONLINE": True,
    "OFFLINE": False,
    "ABNORMAL": False,
    "INACTIVE": False,
    "FROZEN": False,
}


def decode_message(body: bytes, received_at: datetime, directory: DeviceDirectory) -> list[Decoded]:
    """One forwarded message → what to store, or a single Rejected saying why not."""
    device_id: str | None = None
    try:
        envelope = load_object(body)
        resource = _text(envelope, "resource")
        handler = RESOURCES.get(resource)
        if handler is None:
            raise Quarantine(
                QuarantineReason.SCHEMA,
                f"resource {resource!r} is not one ingest takes"
                f" ({', '.join(sorted(RESOURCES))}): check the IoTDA forwarding rule",
            )
        device = _device(envelope, directory)
        device_id = device.device_id
        return handler(envelope, device, body, received_at)
    except Quarantine as error:
        return [error.rejected(TOPIC, body, received_at, device_id)]


# --- resources ------------------------------------------------------------------------


def _properties(
    envelope: dict[str, Any], device: DeviceInfo, body: bytes, received_at: datetime
) -> list[Decoded]:
    services = _body(envelope).get("services")
    if not isinstance(services, list) or not services:
        raise Quarantine(
            QuarantineReason.SCHEMA, "notify_data.body.services must be a non-empty list"
        )
    base_id = _message_id(envelope, device)
    decoded: list[Decoded] = []
    for index, service in enumerate(services):
        if not isinstance(service, dict) or not isinstance(service.get("properties"), dict):
            raise Quarantine(
                QuarantineReason.SCHEMA,
                f"services[{index}] must be an object with a properties object",
            )
        service_id = service.get("service_id")
        msg_id = base_id if len(services) == 1 else f"{base_id}:{index}:{service_id}"
        ts = _time(service.get("event_time"), envelope, received_at)
        origin = Origin(device, ts, msg_id, received_at, TOPIC, body)
        decoded.extend(decode(origin, service["properties"]))
    return decoded


def _message(
    envelope: dict[str, Any], device: DeviceInfo, body: bytes, received_at: datetime
) -> list[Decoded]:
    content = _body(envelope).get("content")
    if isinstance(content, str):
        with contextlib.suppress(ValueError):  # plain text is kept as it is
            content = json.loads(content)
    ts = _time(None, envelope, received_at)
    origin = Origin(device, ts, _message_id(envelope, device), received_at, TOPIC, body)
    if isinstance(content, dict):
        return decode(origin, content)
    return [Reading(device.device_id, ts, origin.msg_id, received_at, extra={"content": content})]


def _status(
    envelope: dict[str, Any], device: DeviceInfo, body: bytes, received_at: datetime
) -> list[Decoded]:
    status_body = _body(envelope, allow_outside=True)
    status = status_body.get("status")
    online = ONLINE_BY_STATUS.get(status) if isinstance(status, str) else None
    if online is None:
        raise Quarantine(
            QuarantineReason.SCHEMA,
            f"body.status {describe(status)} is not one of {', '.join(ONLINE_BY_STATUS)}",
        )
    ts = _time(status_body.get("status_update_time"), envelope, received_at)
    return [Status(device.device_id, online, received_at, ts)]


Handler = Callable[[dict[str, Any], DeviceInfo, bytes, datetime], list[Decoded]]

RESOURCES: Final[Mapping[str, Handler]] = {
    "device.property": _properties,
    "device.message": _message,
    "device.status": _status,
}


# --- the envelope ---------------------------------------------------------------------


def _text(envelope: Mapping[str, Any], key: str) -> str:
    value = envelope.get(key)
    if not isinstance(value, str) or not value:
        raise Quarantine(QuarantineReason.SCHEMA, f"{key} must be a non-empty string")
    return value


def _header(envelope: Mapping[str, Any]) -> Mapping[str, Any]:
    notify = envelope.get("notify_data")
    header = notify.get("header") if isinstance(notify, dict) else None
    if not isinstance(header, dict):
        raise Quarantine(QuarantineReason.SCHEMA, "notify_data.header must be an object")
    return header


def _body(envelope: Mapping[str, Any], allow_outside: bool = False) -> Mapping[str, Any]:
    notify = envelope.get("notify_data")
    body = notify.get("body") if isinstance(notify, dict) else None
    if body is None and allow_outside:
        body = envelope.get("body")
    if not isinstance(body, dict):
        raise Quarantine(QuarantineReason.SCHEMA, "notify_data.body must be an object")
    return body


def _device(envelope: Mapping[str, Any], directory: DeviceDirectory) -> DeviceInfo:
    header = _header(envelope)
    identities = [header.get(key) for key in ("device_id", "node_id")]
    named = [identity for identity in identities if isinstance(identity, str) and identity]
    if not named:
        raise Quarantine(
            QuarantineReason.SCHEMA, "notify_data.header has neither device_id nor node_id"
        )
    for identity in named:
        device = directory.by_platform(PLATFORM, identity)
        if device is not None:
            return device
    raise Quarantine(
        QuarantineReason.UNKNOWN_DEVICE,
        f"no device registered on iotda as {' or '.join(named)}"
        " (register it with its IoTDA device id or IMEI)",
    )


def _message_id(envelope: Mapping[str, Any], device: DeviceInfo) -> str:
    request_id = envelope.get("request_id")
    if isinstance(request_id, str) and request_id.strip():
        return f"{PLATFORM}:{request_id.strip()}"
    return report_id(
        PLATFORM,
        device.device_id,
        envelope.get("resource"),
        envelope.get("event"),
        envelope.get("event_time"),
        envelope.get("notify_data"),
        envelope.get("body"),
    )


def _time(own: Any, envelope: Mapping[str, Any], received_at: datetime) -> datetime:
    """The service's own time when it has one, else the envelope's (milliseconds when
    given); within the window every ingest path accepts."""
    candidates = (
        ("event_time", own),
        ("event_time_ms", envelope.get("event_time_ms")),
        ("event_time", envelope.get("event_time")),
    )
    for name, value in candidates:
        if value is None:
            continue
        try:
            ts = parse_time(value)
        except FieldError as error:
            raise Quarantine(QuarantineReason.SCHEMA, f"{name}: {error}") from None
        problem = window_error(ts, received_at)
        if problem is not None:
            raise Quarantine(QuarantineReason.TS_WINDOW, problem)
        return ts
    raise Quarantine(QuarantineReason.SCHEMA, "event_time is missing")


def parse_time(value: Any) -> datetime:
    """IoTDA's `yyyyMMdd'T'HHmmss'Z'` (UTC), or RFC 3339 as in `event_time_ms`."""
    if isinstance(value, str) and COMPACT_TIME.fullmatch(value):
        try:
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise FieldError(f"{value!r} is not a real date and time") from None
    try:
        return parse_ts(value)
    except FieldError:
        raise FieldError(f"expected yyyyMMddTHHmmssZ or RFC 3339, got {describe(value)}") from None
