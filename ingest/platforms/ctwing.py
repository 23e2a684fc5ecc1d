"""China Telecom CTWing (AEP) HTTP push bodies → our messages. Pure: no I/O.

    decode(body, received_at, directory) -> list[Decoded]

One push is one JSON object whose `messageType` picks its reader (MESSAGE_TYPES):
- `dataReport`: thing-model `payload.serviceData`, or transparent `payload.APPdata`
  (base64). APPdata is read as JSON when it decodes to a JSON object; binary APPdata
  has no public dictionary for the catalogue's models, so it is quarantined with that
  reason (the bytes are kept for when one is written).
- `deviceOnlineOfflineReport`: `eventType` 1 online, 0 offline → Status.
- `eventReport`: `eventType` 1 info, 2 warning, 3 fault; `eventContent` through the
  model's codes when it holds coded keys, else a fault is a FAULT event and the rest
  a reading that keeps the content in `extra`.
- `commandResponse`: answers to our commands; acknowledged, nothing stored.

CTWing sends no message id: the id is a hash of tenantId|productId|deviceId|messageType|
timestamp|payload, so the platform's retry of the same push is stored once. The device
is found by `deviceId`, then `IMEI`. Every bad shape is a `Rejected`, never an exception.
"""

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from core import catalog
from core.types import EventKind
from ingest.adapters.directory import DeviceDirectory
from ingest.adapters.fields import describe
from ingest.adapters.payload import Quarantine
from ingest.messages import Decoded, Event, QuarantineReason, Reading, Status
from ingest.platforms import envelope, service_data

PLATFORM: Final = "ctwing"
TOPIC: Final = "platform/ctwing"  # the quarantine's `topic` for CTWing pushes

Reader = Callable[[dict[str, Any], service_data.Origin], list[Decoded]]


def decode(body: bytes, received_at: datetime, directory: DeviceDirectory) -> list[Decoded]:
    return envelope.guarded(TOPIC, body, received_at, lambda: _decode(body, received_at, directory))


def _decode(body: bytes, received_at: datetime, directory: DeviceDirectory) -> list[Decoded]:
    push = envelope.read_object(body)
    kind = envelope.field(push, "messageType", str)
    reader = MESSAGE_TYPES.get(kind)
    if reader is None:
        known = ", ".join(sorted(MESSAGE_TYPES))
        raise Quarantine(QuarantineReason.SCHEMA, f"messageType {kind!r} is not one of {known}")
    if reader is _command_response:
        return []
    device = envelope.find_device(directory, PLATFORM, (push.get("deviceId"), push.get("IMEI")))
    ts = envelope.device_time(push.get("timestamp"), received_at)
    msg_id = service_data.report_id(
        PLATFORM,
        push.get("tenantId"),
        push.get("productId"),
        push.get("deviceId"),
        kind,
        push.get("timestamp"),
        push.get("payload", push.get("eventContent", push.get("eventType"))),
    )
    origin = service_data.Origin(device, ts, msg_id, received_at, TOPIC, body)
    try:
        return reader(push, origin)
    except Quarantine as problem:  # the device is known: name it in the quarantine row
        return [problem.rejected(TOPIC, body, received_at, device.device_id)]


def _data_report(push: dict[str, Any], origin: service_data.Origin) -> list[Decoded]:
    payload = envelope.field(push, "payload", dict)
    if isinstance(payload.get("serviceData"), dict):
        return service_data.decode(origin, payload["serviceData"])
    if "APPdata" in payload:
        return service_data.decode(origin, _app_data(payload["APPdata"], origin))
    raise Quarantine(
        QuarantineReason.SCHEMA, "payload has neither a serviceData object nor APPdata"
    )


def _app_data(value: Any, origin: service_data.Origin) -> Mapping[str, Any]:
    """Transparent products: base64 bytes. JSON objects are read like serviceData; other
    bytes need the model's binary dictionary, which no public source gives yet."""
    if not isinstance(value, str):
        raise Quarantine(
            QuarantineReason.SCHEMA, f"APPdata: expected base64 text, got {describe(value)}"
        )
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Quarantine(QuarantineReason.SCHEMA, "APPdata is not base64") from None
    try:
        properties = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        properties = None
    if not isinstance(properties, dict):
        model = origin.device.model or "a model the catalogue does not know"
        raise Quarantine(
            QuarantineReason.SCHEMA,
            f"APPdata holds {len(raw)} binary bytes and {model} has no binary dictionary;"
            " kept for decoding once one is added to the catalogue",
        )
    return properties


def _online_offline(push: dict[str, Any], origin: service_data.Origin) -> list[Decoded]:
    event_type = envelope.field(push, "eventType", int)
    if event_type not in (0, 1):
        raise Quarantine(
            QuarantineReason.SCHEMA, f"eventType {event_type}: expected 1 online or 0 offline"
        )
    return [Status(origin.device.device_id, event_type == 1, origin.received_at, origin.ts)]


EVENT_TYPES: Final = {1: "info", 2: "warning", 3: "fault"}


def _event_report(push: dict[str, Any], origin: service_data.Origin) -> list[Decoded]:
    event_type = envelope.field(push, "eventType", int)
    if event_type not in EVENT_TYPES:
        raise Quarantine(QuarantineReason.SCHEMA, f"eventType {event_type}: expected 1, 2 or 3")
    content = push.get("eventContent")
    if content is None:
        content = {}
    if not isinstance(content, dict):
        raise Quarantine(
            QuarantineReason.SCHEMA, f"eventContent: expected an object, got {describe(content)}"
        )
    codes = _model_codes(origin)
    if codes & content.keys():
        return service_data.decode(origin, content)
    device = origin.device.device_id
    level = EVENT_TYPES[event_type]
    if event_type == 3:
        detail = {"platform_event": level, "content": content}
        return [
            Event(device, origin.ts, origin.msg_id, origin.received_at, EventKind.FAULT, detail)
        ]
    extra = {"platform_event": level, **content}
    return [Reading(device, origin.ts, origin.msg_id, origin.received_at, extra=extra)]


def _model_codes(origin: service_data.Origin) -> set[str]:
    model = catalog.lookup(origin.device.model)
    return set(model.codes) if model else set()


def _command_response(push: dict[str, Any], origin: service_data.Origin) -> list[Decoded]:
    return []  # our own commands' results: nothing a sensor said


MESSAGE_TYPES: Final[Mapping[str, Reader]] = {
    "dataReport": _data_report,
    "deviceOnlineOfflineReport": _online_offline,
    "eventReport": _event_report,
    "commandResponse": _command_response,
}
