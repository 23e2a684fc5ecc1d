"""Shared test data: one registered device of each type, and an arrival time."""

import json
from datetime import UTC, datetime
from typing import Any

from core.types import DeviceType
from ingest.adapters import StaticDirectory
from ingest.messages import Decoded, DeviceInfo, Rejected

NOW = datetime(2026, 11, 28, 0, 15, 5, tzinfo=UTC)
TS = "2026-11-28T08:15:02+08:00"  # 3 s before NOW

BUTTON = DeviceInfo("btn-001", DeviceType.EMERGENCY_BUTTON)
SMOKE = DeviceInfo("smoke-001", DeviceType.SMOKE)
GAS = DeviceInfo("gas-001", DeviceType.GAS)
PIR = DeviceInfo("pir-001", DeviceType.PIR)
BY_TYPE = {device.device_type: device for device in (BUTTON, SMOKE, GAS, PIR)}

ZIGBEE = {
    "bedside button": BUTTON.device_id,
    "王奶奶家/厨房 smoke": SMOKE.device_id,
    "kitchen/gas": GAS.device_id,
    "0x00158D0001A2B3C4": PIR.device_id,  # IEEE, as Zigbee2MQTT's default friendly name
}


def directory() -> StaticDirectory:
    return StaticDirectory(BY_TYPE.values(), ZIGBEE)


OMIT: Any = object()


def body(**fields: Any) -> bytes:
    """A native payload with a valid envelope; pass a field as OMIT to leave it out."""
    message = {"msg_id": "m-1", "ts": TS, **fields}
    return json.dumps({key: value for key, value in message.items() if value is not OMIT}).encode()


def compact(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def only_rejected(decoded: list[Decoded]) -> Rejected:
    assert len(decoded) == 1, decoded
    assert isinstance(decoded[0], Rejected), decoded
    return decoded[0]
