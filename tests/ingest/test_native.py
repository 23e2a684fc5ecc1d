"""The native contract adapter: every quarantine reason, every device type, every event."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.types import DeviceType, EventKind
from ingest.adapters import native
from ingest.messages import Event, QuarantineReason, Reading, Status
from tests.ingest.support import BY_TYPE, NOW, OMIT, SMOKE, body, directory, only_rejected

R = QuarantineReason
TELEMETRY = f"nuanxin/v1/{SMOKE.device_id}/telemetry"
EVENT = f"nuanxin/v1/{SMOKE.device_id}/event"
STATUS = f"nuanxin/v1/{SMOKE.device_id}/status"
GAS_TELEMETRY = "nuanxin/v1/gas-001/telemetry"
PIR_TELEMETRY = "nuanxin/v1/pir-001/telemetry"
BUTTON_TELEMETRY = "nuanxin/v1/btn-001/telemetry"
PIR_EVENT = "nuanxin/v1/pir-001/event"
INF = body(smoke_density=0).replace(b"0}", b"1e400}")  # json.dumps would write Infinity
LATE = body(ts=(NOW + timedelta(hours=25)).isoformat())
EARLY = body(ts=(NOW - timedelta(days=31)).isoformat())


def decode(topic: str, payload: bytes, received_at: datetime = NOW) -> list[Any]:
    return native.decode(topic, payload, received_at, directory())


def topic_of(device_type: DeviceType, kind: str) -> str:
    return f"nuanxin/v1/{BY_TYPE[device_type].device_id}/{kind}"


QUARANTINED = [
    # (case, topic, payload, reason, words the detail must contain)
    ("too large", TELEMETRY, body(note="x" * 17_000), R.TOO_LARGE, "limit 16384"),
    ("not utf-8", TELEMETRY, b'\xff\xfe{"a": 1}', R.BAD_JSON, "UTF-8"),
    ("truncated json", TELEMETRY, b'{"msg_id": "a", ', R.BAD_JSON, "not JSON"),
    ("empty payload", TELEMETRY, b"", R.BAD_JSON, "not JSON"),
    ("array", TELEMETRY, b"[1, 2]", R.BAD_JSON, "not a JSON object"),
    ("bare string", TELEMETRY, b'"hello"', R.BAD_JSON, "not a JSON object"),
    ("NaN", TELEMETRY, b'{"msg_id": "a", "battery": NaN}', R.BAD_JSON, "NaN"),
    ("Infinity", TELEMETRY, b'{"battery": -Infinity}', R.BAD_JSON, "Infinity"),
    ("escaped NUL", TELEMETRY, b'{"msg_id": "a\\u0000b"}', R.BAD_JSON, "NUL"),
    ("NUL in a key", TELEMETRY, b'{"x\\u0000": 1}', R.BAD_JSON, "NUL"),
    ("lone surrogate", TELEMETRY, b'{"note": ["\\ud800"]}', R.BAD_JSON, "surrogate"),
    ("deep nesting", TELEMETRY, b"[" * 5000, R.BAD_JSON, "not JSON"),
    ("three levels", "nuanxin/v1/smoke-001", body(), R.BAD_TOPIC, "nuanxin/v1"),
    ("other version", "nuanxin/v2/smoke-001/telemetry", body(), R.BAD_TOPIC, "nuanxin/v1"),
    ("extra level", f"{TELEMETRY}/x", body(), R.BAD_TOPIC, "nuanxin/v1"),
    ("unknown kind", "nuanxin/v1/smoke-001/heartbeat", body(), R.BAD_TOPIC, "heartbeat"),
    ("id too short", "nuanxin/v1/ab/telemetry", body(), R.BAD_TOPIC, "device_id"),
    ("id too long", f"nuanxin/v1/{'a' * 65}/telemetry", body(), R.BAD_TOPIC, "device_id"),
    ("id with space", "nuanxin/v1/smoke 001/telemetry", body(), R.BAD_TOPIC, "device_id"),
    ("id with unicode", "nuanxin/v1/烟感-001/telemetry", body(), R.BAD_TOPIC, "device_id"),
    ("unregistered", "nuanxin/v1/nobody-01/telemetry", body(), R.UNKNOWN_DEVICE, "nobody-01"),
    ("no msg_id", TELEMETRY, body(msg_id=OMIT), R.SCHEMA, "msg_id: required"),
    ("empty msg_id", TELEMETRY, body(msg_id=""), R.SCHEMA, "msg_id"),
    ("long msg_id", TELEMETRY, body(msg_id="m" * 129), R.SCHEMA, "msg_id"),
    ("numeric msg_id", TELEMETRY, body(msg_id=17), R.SCHEMA, "msg_id"),
    ("no ts", TELEMETRY, body(ts=OMIT), R.SCHEMA, "ts: required"),
    ("ts without offset", TELEMETRY, body(ts="2026-11-28T08:15:02"), R.SCHEMA, "ts:"),
    ("ts date only", TELEMETRY, body(ts="2026-11-28"), R.SCHEMA, "ts:"),
    ("ts in seconds as float", TELEMETRY, body(ts=1795824902.0), R.SCHEMA, "ts:"),
    ("ts as boolean", TELEMETRY, body(ts=True), R.SCHEMA, "ts:"),
    ("ts as words", TELEMETRY, body(ts="yesterday"), R.SCHEMA, "ts:"),
    ("ts impossible date", TELEMETRY, body(ts="2026-02-30T08:00:00Z"), R.SCHEMA, "ts:"),
    ("ts beyond datetime", TELEMETRY, body(ts=10**20), R.SCHEMA, "out of range"),
    ("ts null", TELEMETRY, body(ts=None), R.SCHEMA, "null"),
    ("battery 101", TELEMETRY, body(battery=101), R.SCHEMA, "battery: 101 is outside 0–100"),
    ("battery negative", TELEMETRY, body(battery=-1), R.SCHEMA, "battery"),
    ("battery as text", TELEMETRY, body(battery="87"), R.SCHEMA, "battery: expected a number"),
    ("battery as boolean", TELEMETRY, body(battery=True), R.SCHEMA, "battery"),
    ("battery null", TELEMETRY, body(battery=None), R.SCHEMA, "expected a number, got null"),
    ("battery_low as 1", TELEMETRY, body(battery_low=1), R.SCHEMA, "battery_low: expected true"),
    ("smoke as text", TELEMETRY, body(smoke="true"), R.SCHEMA, "smoke: expected true or false"),
    ("smoke as 0", TELEMETRY, body(smoke=0), R.SCHEMA, "smoke"),
    ("tamper null", TELEMETRY, body(tamper=None), R.SCHEMA, "tamper"),
    ("rssi positive", TELEMETRY, body(rssi=5), R.SCHEMA, "rssi"),
    ("temperature as text", TELEMETRY, body(temperature="hot"), R.SCHEMA, "temperature"),
    ("smoke_density negative", TELEMETRY, body(smoke_density=-0.1), R.SCHEMA, "smoke_density"),
    ("huge number", TELEMETRY, INF, R.SCHEMA, "smoke_density: expected a number, got float inf"),
    ("gas_lel negative", GAS_TELEMETRY, body(gas_lel=-0.1), R.SCHEMA, "-0.1 is outside ≥ 0"),
    ("illuminance negative", PIR_TELEMETRY, body(illuminance=-1), R.SCHEMA, "illuminance"),
    ("no event", EVENT, body(), R.SCHEMA, "event: required"),
    ("unknown event", EVENT, body(event="explosion"), R.SCHEMA, "event: expected one of"),
    ("event as list", EVENT, body(event=["alarm"]), R.SCHEMA, "event"),
    ("detail as list", EVENT, body(event="alarm", detail=[1]), R.SCHEMA, "detail: expected"),
    ("no state", STATUS, b"{}", R.SCHEMA, "state: required"),
    ("state up", STATUS, b'{"state": "up"}', R.SCHEMA, "state"),
    ("status ts bad", STATUS, b'{"state": "online", "ts": "soon"}', R.SCHEMA, "ts:"),
    ("fw as number", STATUS, b'{"state": "online", "fw": 2}', R.SCHEMA, "fw"),
    ("ts 25 h ahead", TELEMETRY, LATE, R.TS_WINDOW, "24 h"),
    ("ts 31 days old", TELEMETRY, EARLY, R.TS_WINDOW, "30 days"),
    ("ts epoch zero", EVENT, body(ts=0, event="alarm"), R.TS_WINDOW, "30 days"),
    ("gas from smoke", TELEMETRY, body(gas=False), R.WRONG_TYPE, "gas: a smoke device has no gas"),
    ("illuminance from smoke", TELEMETRY, body(illuminance=3), R.WRONG_TYPE, "illuminance"),
    ("density from gas", GAS_TELEMETRY, body(smoke_density=0.1), R.WRONG_TYPE, "smoke_density"),
    ("motion from button", BUTTON_TELEMETRY, body(motion=True), R.WRONG_TYPE, "motion"),
    ("press from pir", PIR_EVENT, body(event="button_press"), R.WRONG_TYPE, "send button_press"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "words"),
    [case[1:] for case in QUARANTINED],
    ids=[case[0] for case in QUARANTINED],
)
def test_quarantined(topic: str, payload: bytes, reason: QuarantineReason, words: str) -> None:
    rejected = only_rejected(decode(topic, payload))
    assert (rejected.reason, rejected.topic, rejected.received_at) == (reason, topic, NOW)
    assert words in rejected.detail
    assert rejected.payload == payload[:16384]


def test_every_reason_is_covered() -> None:
    assert {case[3] for case in QUARANTINED} == set(QuarantineReason)


def test_rejected_names_the_device_only_when_the_topic_names_a_valid_id() -> None:
    assert only_rejected(decode(TELEMETRY, b"[]")).device_id == SMOKE.device_id
    unknown = "nuanxin/v1/nobody-01/telemetry"
    assert only_rejected(decode(unknown, body())).device_id == "nobody-01"
    assert only_rejected(decode("nuanxin/v1/a b/telemetry", body())).device_id is None


def test_an_oversized_payload_is_kept_truncated() -> None:
    payload = b"x" * 1_000_000
    rejected = only_rejected(decode(TELEMETRY, payload))
    assert len(rejected.payload) == 16384
    assert "first 16384 of 1000000 bytes kept" in rejected.detail


def test_platform_commands_are_ignored_not_quarantined() -> None:
    assert decode(f"nuanxin/v1/{SMOKE.device_id}/cmd", b"anything") == []


SENSORS = [
    # (device type, sensor fields it may send, their decoded values)
    (DeviceType.EMERGENCY_BUTTON, {}, {}),
    (
        DeviceType.SMOKE,
        {"smoke": True, "smoke_density": 0.12},
        {"smoke": True, "smoke_density": 0.12},
    ),
    (DeviceType.GAS, {"gas": True, "gas_lel": 12}, {"gas": True, "gas_lel": 12.0}),
    (DeviceType.PIR, {"motion": False, "illuminance": 35}, {"motion": False, "illuminance": 35.0}),
]
COMMON = {"battery": 87.5, "battery_low": False, "tamper": False, "rssi": -71, "temperature": 21.5}
COMMON_DECODED = {
    "battery": 88,
    "battery_low": False,
    "tamper": False,
    "rssi": -71,
    "temperature": 21.5,
}


@pytest.mark.parametrize(("device_type", "fields", "expected"), SENSORS, ids=lambda v: str(v))
def test_every_device_type_sends_its_fields(
    device_type: DeviceType, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    [reading] = decode(topic_of(device_type, "telemetry"), body(**fields, **COMMON))
    assert isinstance(reading, Reading)
    assert reading.device_id == BY_TYPE[device_type].device_id
    assert (reading.msg_id, reading.received_at, reading.extra) == ("m-1", NOW, None)
    assert reading.ts == datetime(2026, 11, 28, 0, 15, 2, tzinfo=UTC)
    for name, value in {**expected, **COMMON_DECODED}.items():
        assert getattr(reading, name) == value, name


@pytest.mark.parametrize("device_type", list(DeviceType))
def test_a_message_without_sensor_fields_is_a_heartbeat(device_type: DeviceType) -> None:
    [reading] = decode(topic_of(device_type, "telemetry"), body())
    assert isinstance(reading, Reading)
    assert all(getattr(reading, name) is None for name in ("smoke", "gas", "motion", "battery"))


def test_unknown_keys_go_to_extra() -> None:
    [reading] = decode(TELEMETRY, body(smoke=False, fw="2.4", zones={"a": [1, None]}))
    assert isinstance(reading, Reading)
    assert reading.extra == {"fw": "2.4", "zones": {"a": [1, None]}}


ALLOWED_EVENTS = {
    DeviceType.EMERGENCY_BUTTON: {"button_press", "tamper", "self_test", "fault", "low_battery"},
    DeviceType.SMOKE: {"alarm", "alarm_clear", "tamper", "self_test", "fault", "low_battery"},
    DeviceType.GAS: {"alarm", "alarm_clear", "tamper", "self_test", "fault", "low_battery"},
    DeviceType.PIR: {"tamper", "self_test", "fault", "low_battery"},
}


@pytest.mark.parametrize("device_type", list(DeviceType))
@pytest.mark.parametrize("kind", list(EventKind))
def test_events_by_device_type(device_type: DeviceType, kind: EventKind) -> None:
    [decoded] = decode(topic_of(device_type, "event"), body(event=kind.value, detail={"n": 1}))
    if kind.value in ALLOWED_EVENTS[device_type]:
        assert isinstance(decoded, Event)
        assert (decoded.event, decoded.detail, decoded.msg_id) == (kind, {"n": 1}, "m-1")
    else:
        assert only_rejected([decoded]).reason == QuarantineReason.WRONG_TYPE


def test_event_detail_defaults_to_empty() -> None:
    [event] = decode(EVENT, body(event="alarm"))
    assert isinstance(event, Event)
    assert event.detail == {}


TIMESTAMPS = [
    ("2026-11-28T00:15:02Z", datetime(2026, 11, 28, 0, 15, 2, tzinfo=UTC)),
    ("2026-11-28t00:15:02z", datetime(2026, 11, 28, 0, 15, 2, tzinfo=UTC)),
    ("2026-11-28 08:15:02+08:00", datetime(2026, 11, 28, 0, 15, 2, tzinfo=UTC)),
    ("2026-11-28T08:15:02.25+08:00", datetime(2026, 11, 28, 0, 15, 2, 250000, tzinfo=UTC)),
    ("2026-11-27T19:15:02-05:00", datetime(2026, 11, 28, 0, 15, 2, tzinfo=UTC)),
    (1795824902000, datetime(2026, 11, 28, 0, 15, 2, tzinfo=UTC)),
    (1795824902001, datetime(2026, 11, 28, 0, 15, 2, 1000, tzinfo=UTC)),
]


@pytest.mark.parametrize(("ts", "expected"), TIMESTAMPS, ids=lambda v: str(v))
def test_timestamp_formats(ts: object, expected: datetime) -> None:
    [reading] = decode(TELEMETRY, body(ts=ts))
    assert isinstance(reading, Reading)
    assert reading.ts == expected
    assert reading.ts.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(hours=24), True),
        (timedelta(hours=24, milliseconds=1), False),
        (-timedelta(days=30), True),
        (-timedelta(days=30, milliseconds=1), False),
    ],
)
def test_window_edges(offset: timedelta, accepted: bool) -> None:
    epoch_ms = round((NOW + offset).timestamp() * 1000)
    [decoded] = decode(TELEMETRY, body(ts=epoch_ms))
    assert isinstance(decoded, Reading) is accepted


STATUSES = [
    (b'{"state": "online", "ts": "2026-11-28T08:00:00+08:00", "fw": "2.4.1"}', True, "2.4.1"),
    (b'{"state": "offline"}', False, None),
    (b'{"state": "online", "ts": null, "fw": null, "uptime": 5}', True, None),
]


@pytest.mark.parametrize(("payload", "online", "firmware"), STATUSES)
def test_status(payload: bytes, online: bool, firmware: str | None) -> None:
    [status] = decode(STATUS, payload)
    assert isinstance(status, Status)
    assert (status.device_id, status.online, status.firmware) == (SMOKE.device_id, online, firmware)
    assert status.received_at == NOW


def test_a_retained_status_may_be_old() -> None:
    [status] = decode(STATUS, b'{"state": "online", "ts": "2025-01-01T00:00:00Z"}')
    assert isinstance(status, Status)
    assert status.ts == datetime(2025, 1, 1, tzinfo=UTC)


def test_adapter_object_matches_function() -> None:
    adapter = native.NativeAdapter(directory())
    assert adapter.decode(TELEMETRY, body(), NOW) == decode(TELEMETRY, body())
