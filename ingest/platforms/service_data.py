"""A device's reported properties (CTWing `serviceData`, OneNET data points, IoTDA
`services[].properties`) read through its catalogue model: coded values become events
and reading fields, measured values are scaled into their fields, the rest is `extra`.

Pure and total: a value the model's table does not know is kept in `extra` and noted in
a Rejected (SCHEMA) so the reading, and any alarm beside it, is still stored.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core import catalog
from ingest.adapters.fields import SENSOR_FIELDS, FieldError, describe
from ingest.adapters.payload import reject
from ingest.messages import Decoded, DeviceInfo, Event, QuarantineReason, Reading


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one report came from: the device, its time, its id, the raw body."""

    device: DeviceInfo
    ts: datetime
    msg_id: str
    received_at: datetime
    topic: str  # the platform route, e.g. "platform/ctwing", for quarantine rows
    payload: bytes  # the raw body as received


def report_id(platform: str, *parts: Any) -> str:
    """A stable message id for a platform that sends none: a hash of the identifying
    parts (canonical JSON), so the platform's retry of the same push is stored once."""
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()
    return f"{platform}:{digest}"


def decode(origin: Origin, properties: Mapping[str, Any]) -> list[Decoded]:
    """One Reading (a report with nothing we know is still a heartbeat), one Event per
    coded value that means one, and a Rejected noting values no table knows."""
    model = catalog.lookup(origin.device.model)
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    events: list[Decoded] = []
    problems: list[str] = []
    for key, value in properties.items():
        if model and key in model.codes:
            _coded(origin, key, value, model.codes[key], values, events, problems)
            extra[key] = value  # the raw code stays visible next to what it meant
        elif model and key in model.fields and model.fields[key].field is not None:
            _measured(key, value, model.fields[key], origin.device, values, extra, problems)
        else:
            extra[key] = value
    reading = Reading(
        origin.device.device_id,
        origin.ts,
        origin.msg_id,
        origin.received_at,
        **values,
        extra=extra or None,
    )
    decoded: list[Decoded] = [reading, *events]
    if problems:
        detail = "; ".join(problems) + " (the rest of the report was stored)"
        decoded.append(
            reject(
                origin.topic,
                origin.payload,
                QuarantineReason.SCHEMA,
                detail,
                origin.received_at,
                origin.device.device_id,
            )
        )
    return decoded


def _coded(
    origin: Origin,
    key: str,
    value: Any,
    table: Mapping[Any, catalog.Meaning],
    values: dict[str, Any],
    events: list[Decoded],
    problems: list[str],
) -> None:
    meaning = table.get(value)
    if meaning is None and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        meaning = table.get(int(value))  # some firmware sends codes as strings
    if meaning is None:
        problems.append(f"{key}: code {describe(value)} is not in the model's table")
        return
    for name, field_value in meaning.values.items():
        values.setdefault(name, field_value)
    if meaning.event is not None:
        detail = {"sensor": key, "code": value}
        if meaning.detail:
            detail["meaning"] = meaning.detail
        events.append(
            Event(
                origin.device.device_id,
                origin.ts,
                f"{origin.msg_id}:{key}",
                origin.received_at,
                meaning.event,
                detail,
            )
        )


def _measured(
    key: str,
    value: Any,
    spec: catalog.Scaled,
    device: DeviceInfo,
    values: dict[str, Any],
    extra: dict[str, Any],
    problems: list[str],
) -> None:
    name = spec.field
    assert name is not None
    sensor = SENSOR_FIELDS[name]
    if device.device_type not in sensor.types:
        extra[key] = value
        return
    try:
        raw = float(value) if isinstance(value, str) else value
        scaled = raw
        if spec.scale != 1.0 and type(raw) in (int, float):
            scaled = round(raw * spec.scale, 9)  # 219 × 0.1 is 21.9, not 21.900000000000002
        values.setdefault(name, sensor.parse(scaled))
    except (FieldError, ValueError) as error:
        extra[key] = value
        problems.append(f"{key}: {error}")
