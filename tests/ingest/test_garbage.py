"""Garbage in never raises: random bytes and junk JSON through every route come back as
typed messages, and as Rejected wherever they cannot be a valid message."""

import json
import random
from typing import Any

import pytest

from ingest.adapters import Router
from ingest.messages import Event, Reading, Rejected, Status
from tests.ingest.support import NOW, TS, directory

TOPICS = [
    "nuanxin/v1/smoke-001/telemetry",
    "nuanxin/v1/btn-001/event",
    "nuanxin/v1/pir-001/status",
    "nuanxin/v1/nobody-01/telemetry",
    "zigbee2mqtt/王奶奶家/厨房 smoke",
    "zigbee2mqtt/bedside button",
    "zigbee2mqtt/bedside button/availability",
    "zigbee2mqtt/a stranger",
    "elsewhere/x",
]
NATIVE = [topic for topic in TOPICS if topic.startswith("nuanxin/")]
KEYS = ["msg_id", "ts", "event", "detail", "state", "fw", "battery", "battery_low", "rssi"]
KEYS += ["temperature", "tamper", "smoke", "smoke_density", "gas", "gas_lel", "motion"]
KEYS += ["illuminance", "occupancy", "action", "sos", "test", "last_seen", "device", "x"]
STRINGS = ["", "online", "single", "alarm", "\x00", "\ud800", "é烟", "\\u0000", TS, "9" * 400]
NUMBERS = [0, -1, 1, 2**63, -(2**70), 0.5, 1e308, -1e-308, 87.5, 1795824902000]


def junk(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(8 if depth < 4 else 5)
    if pick == 0:
        return rng.choice(STRINGS)
    if pick == 1:
        return rng.choice(NUMBERS)
    if pick == 2:
        return rng.choice([True, False, None])
    if pick == 3:
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(6)))
    if pick == 4:
        return rng.random() * 10 ** rng.randrange(-5, 20)
    if pick == 5:
        return [junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(KEYS): junk(rng, depth + 1) for _ in range(rng.randrange(6))}


def mutated(rng: random.Random) -> bytes:
    message: dict[str, Any] = {"msg_id": "m-1", "ts": TS, "smoke": False, "battery": 80}
    for _ in range(rng.randrange(1, 5)):
        message[rng.choice(KEYS)] = junk(rng)
    return json.dumps(message, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


def random_bytes(rng: random.Random) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 7, 64, 900, 17_000])))


def check_shape(topic: str, decoded: list[Any]) -> None:
    assert all(isinstance(item, Reading | Event | Status | Rejected) for item in decoded)
    for item in decoded:
        if isinstance(item, Reading):
            for name in ("smoke", "gas", "motion", "tamper", "battery_low"):
                assert getattr(item, name) in (None, True, False)
            assert item.battery is None or type(item.battery) is int
        if isinstance(item, Rejected):
            assert item.topic == topic and len(item.payload) <= 16384
    if topic.startswith("nuanxin/"):
        assert len(decoded) == 1


@pytest.mark.parametrize("seed", range(4))
def test_random_bytes_are_rejected(seed: int) -> None:
    rng = random.Random(seed)
    router = Router(directory())
    for _ in range(300):
        topic = rng.choice(TOPICS)
        payload = random_bytes(rng)
        decoded = router.decode(topic, payload, NOW)
        check_shape(topic, decoded)
        if topic.startswith("zigbee2mqtt/") and not payload:
            assert decoded == []  # a retained message deleted (Zigbee2MQTT on rename)
        elif topic in NATIVE or payload.strip() not in (b"online", b"offline"):
            assert [type(item) for item in decoded] == [Rejected], (topic, payload[:40])


@pytest.mark.parametrize("seed", range(4))
def test_junk_json_never_raises(seed: int) -> None:
    rng = random.Random(1000 + seed)
    router = Router(directory())
    for _ in range(1500):
        topic = rng.choice(TOPICS)
        value = junk(rng)
        payload = mutated(rng) if rng.random() < 0.5 else json.dumps(value).encode()
        decoded = router.decode(topic, payload, NOW)
        check_shape(topic, decoded)
        if topic in NATIVE and not isinstance(value, dict) and not payload.startswith(b'{"msg_id"'):
            assert [type(item) for item in decoded] == [Rejected]


@pytest.mark.parametrize("topic", TOPICS)
@pytest.mark.parametrize(
    "payload",
    [b"[" * 100_000, b'{"a":' * 20_000, b"\xef\xbb\xbf{}", b"{}", b"null", b"\x00", b"1" * 5000],
    ids=["deep list", "deep object", "bom", "empty object", "null", "nul byte", "long int"],
)
def test_hostile_payloads(topic: str, payload: bytes) -> None:
    check_shape(topic, Router(directory()).decode(topic, payload, NOW))
