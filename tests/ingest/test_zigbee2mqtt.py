"""The Zigbee2MQTT adapter: topics, device mapping, key table, transitions, actions."""

from datetime import timedelta
from typing import Any

import pytest

from core.types import EventKind
from ingest.adapters import zigbee2mqtt as z2m
from ingest.adapters.zigbee2mqtt import Z2mDeviceState, Zigbee2MqttAdapter
from ingest.messages import Decoded, Event, QuarantineReason, Reading, Rejected, Status
from tests.ingest.support import BUTTON, GAS, NOW, PIR, SMOKE, compact, directory, only_rejected

SMOKE_TOPIC = "zigbee2mqtt/王奶奶家/厨房 smoke"
BUTTON_TOPIC = "zigbee2mqtt/bedside button"
PIR_TOPIC = "zigbee2mqtt/0x00158d0001a2b3c4"


def adapter() -> Zigbee2MqttAdapter:
    return Zigbee2MqttAdapter(directory())


def send(
    topic: str, payload: dict[str, Any] | bytes, into: Zigbee2MqttAdapter | None = None
) -> list[Decoded]:
    raw = payload if isinstance(payload, bytes) else compact(payload)
    return (into or adapter()).decode(topic, raw, NOW)


def events(decoded: list[Decoded]) -> list[tuple[EventKind, dict[str, Any]]]:
    return [(item.event, item.detail) for item in decoded if isinstance(item, Event)]


def reading(decoded: list[Decoded]) -> Reading:
    assert isinstance(decoded[0], Reading), decoded
    return decoded[0]


IGNORED_TOPICS = [
    "zigbee2mqtt/bridge",
    "zigbee2mqtt/bridge/state",
    "zigbee2mqtt/bridge/devices",
    "zigbee2mqtt/bridge/request/device/rename",
    "zigbee2mqtt/bedside button/set",
    "zigbee2mqtt/bedside button/get",
    "zigbee2mqtt/bedside button/set/state",
    "zigbee2mqtt/somebody else's lamp/set",
    "zigbee2mqtt/kitchen/gas/get/gas",
]


@pytest.mark.parametrize("topic", IGNORED_TOPICS)
def test_gateway_and_command_topics_are_ignored(topic: str) -> None:
    assert send(topic, b'{"state": "ON"}') == []


MAPPED = [
    ("zigbee2mqtt/bedside button", BUTTON.device_id),
    ("zigbee2mqtt/王奶奶家/厨房 smoke", SMOKE.device_id),
    ("zigbee2mqtt/kitchen/gas", GAS.device_id),
    ("zigbee2mqtt/0x00158d0001a2b3c4", PIR.device_id),
    ("zigbee2mqtt/0x00158D0001A2B3C4", PIR.device_id),
]


@pytest.mark.parametrize(("topic", "device_id"), MAPPED)
def test_friendly_names_and_ieee_addresses(topic: str, device_id: str) -> None:
    assert reading(send(topic, {"battery": 90})).device_id == device_id


@pytest.mark.parametrize(("topic", "device_id"), MAPPED)
@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b'{"state":"online"}', True),
        (b'{"state":"offline"}', False),
        (b"online", True),
        (b"offline", False),
        (b"online\n", True),
    ],
)
def test_availability(topic: str, device_id: str, payload: bytes, online: bool) -> None:
    [status] = send(f"{topic}/availability", payload)
    assert status == Status(device_id, online, NOW)


def test_found_by_ieee_in_device_information() -> None:
    payload = {
        "device": {"friendlyName": "renamed", "ieeeAddr": "0x00158d0001a2b3c4"},
        "occupancy": True,
    }
    decoded = reading(send("zigbee2mqtt/renamed", payload))
    assert (decoded.device_id, decoded.motion, decoded.extra) == (PIR.device_id, True, None)


QUARANTINED = [
    ("zigbee2mqtt/", b"{}", QuarantineReason.BAD_TOPIC),
    ("zigbee2mqtt/a stranger", b'{"smoke": true}', QuarantineReason.UNKNOWN_DEVICE),
    ("zigbee2mqtt/a stranger/availability", b"online", QuarantineReason.UNKNOWN_DEVICE),
    (SMOKE_TOPIC, b"x" * 17_000, QuarantineReason.TOO_LARGE),
    (SMOKE_TOPIC, b"ON", QuarantineReason.BAD_JSON),
    (SMOKE_TOPIC, b"[true]", QuarantineReason.BAD_JSON),
    (f"{SMOKE_TOPIC}/availability", b"maybe", QuarantineReason.BAD_JSON),
    (f"{SMOKE_TOPIC}/availability", b'{"state": "up"}', QuarantineReason.SCHEMA),
    (f"{SMOKE_TOPIC}/availability", b"{}", QuarantineReason.SCHEMA),
    (SMOKE_TOPIC, b'{"occupancy": true}', QuarantineReason.WRONG_TYPE),
    (SMOKE_TOPIC, b'{"gas": false}', QuarantineReason.WRONG_TYPE),
    (SMOKE_TOPIC, b'{"sos": false}', QuarantineReason.WRONG_TYPE),
    (PIR_TOPIC, b'{"smoke": false}', QuarantineReason.WRONG_TYPE),
    (BUTTON_TOPIC, b'{"illuminance": 3}', QuarantineReason.WRONG_TYPE),
]


@pytest.mark.parametrize(("topic", "payload", "reason"), QUARANTINED)
def test_quarantined(topic: str, payload: bytes, reason: QuarantineReason) -> None:
    rejected = only_rejected(send(topic, payload))
    assert (rejected.reason, rejected.topic, rejected.received_at) == (reason, topic, NOW)


def test_a_rejected_message_leaves_the_flags_alone() -> None:
    gateway = adapter()
    send(SMOKE_TOPIC, {"smoke": True}, gateway)
    send(SMOKE_TOPIC, {"smoke": False, "occupancy": True}, gateway)
    assert events(send(SMOKE_TOPIC, {"smoke": True, "battery": 3}, gateway)) == []


ALARM = (EventKind.ALARM, {"sensor": "smoke"})
CLEAR = (EventKind.ALARM_CLEAR, {"sensor": "smoke"})
SEQUENCE = [
    # smoke as published (None: key absent), events expected from that message
    (False, []),
    (True, [ALARM]),
    (True, []),
    (None, []),
    (True, []),
    (False, [CLEAR]),
    (False, []),
    (None, []),
    (True, [ALARM]),
]


def test_alarms_are_transitions_not_keys() -> None:
    gateway = adapter()
    for step, (smoke, expected) in enumerate(SEQUENCE):
        payload = {"battery": 90, "linkquality": step} | ({} if smoke is None else {"smoke": smoke})
        decoded = send(SMOKE_TOPIC, payload, gateway)
        assert reading(decoded).smoke is smoke, step
        assert events(decoded) == expected, step


@pytest.mark.parametrize(
    ("previous", "smoke", "expected"),
    [
        (Z2mDeviceState(), True, [ALARM]),  # nothing known, e.g. after a restart: page
        (Z2mDeviceState(), False, []),
        (Z2mDeviceState(frozenset({"smoke"})), True, []),
        (Z2mDeviceState(frozenset({"smoke"})), False, [CLEAR]),
    ],
)
def test_pure_decode(previous: Z2mDeviceState, smoke: bool, expected: list[Any]) -> None:
    states = {SMOKE.device_id: previous}
    result = z2m.decode(SMOKE_TOPIC, compact({"smoke": smoke}), NOW, directory(), states)
    assert events(result.decoded) == expected
    assert result.device_id == SMOKE.device_id
    assert result.state is not None and ("smoke" in result.state.raised) is smoke
    assert states == {SMOKE.device_id: previous}  # input untouched


def test_flags_for_several_keys_in_one_message() -> None:
    decoded = send(
        "zigbee2mqtt/kitchen/gas",
        {"gas": True, "tamper": True, "battery_low": True, "trouble": True, "test": True},
    )
    assert events(decoded) == [
        (EventKind.ALARM, {"sensor": "gas"}),
        (EventKind.LOW_BATTERY, {"sensor": "battery_low"}),
        (EventKind.TAMPER, {"sensor": "tamper"}),
        (EventKind.SELF_TEST, {"sensor": "test"}),
        (EventKind.FAULT, {"sensor": "trouble"}),
    ]
    ids = [item.msg_id for item in decoded if isinstance(item, Reading | Event)]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (None, []),
        ("", []),
        ("off", []),
        ("release", []),
        ("disarm", []),
        ("single", [(EventKind.BUTTON_PRESS, {"action": "single"})]),
        ("double", [(EventKind.BUTTON_PRESS, {"action": "double"})]),
        ("hold", [(EventKind.BUTTON_PRESS, {"action": "hold"})]),
        ("emergency", [(EventKind.BUTTON_PRESS, {"action": "emergency"})]),
        ("shake", [(EventKind.BUTTON_PRESS, {"action": "shake", "unmapped": True})]),
    ],
)
def test_actions(action: str | None, expected: list[Any]) -> None:
    gateway = adapter()
    for _ in range(2):  # not cached by Zigbee2MQTT: each message is a press of its own
        decoded = send(BUTTON_TOPIC, {"action": action, "battery": 80, "linkquality": _}, gateway)
        assert events(decoded) == expected


def test_empty_action_from_a_sensor_is_no_event() -> None:
    decoded = send(PIR_TOPIC, {"action": "", "occupancy": True})
    assert [type(item) for item in decoded] == [Reading]


def test_sos_flag_presses_on_the_rising_edge_only() -> None:
    gateway = adapter()
    presses = [
        events(send(BUTTON_TOPIC, {"sos": sos}, gateway))
        for sos in (False, True, True, False, True)
    ]
    press = [(EventKind.BUTTON_PRESS, {"sensor": "sos"})]
    assert presses == [[], press, [], [], press]


def test_a_bad_value_does_not_hold_back_the_rest() -> None:
    decoded = send(SMOKE_TOPIC, {"battery": 150, "smoke": True, "tamper": "yes"})
    first, alarm, rejected = decoded
    assert (
        isinstance(first, Reading) and isinstance(alarm, Event) and isinstance(rejected, Rejected)
    )
    assert (first.battery, first.tamper, first.smoke) == (None, None, True)
    assert first.extra == {"battery": 150, "tamper": "yes"}
    assert alarm.event == EventKind.ALARM
    assert rejected.reason == QuarantineReason.SCHEMA
    assert "battery: 150 is outside 0–100" in rejected.detail and "tamper" in rejected.detail


def test_bad_action_type_is_reported() -> None:
    decoded = send(BUTTON_TOPIC, {"action": 3})
    assert isinstance(decoded[-1], Rejected) and "action" in decoded[-1].detail


def test_null_means_unknown_not_wrong() -> None:
    decoded = send(SMOKE_TOPIC, {"battery": None, "smoke": False, "update": None})
    assert [type(item) for item in decoded] == [Reading]
    assert reading(decoded).battery is None


def test_key_table() -> None:
    decoded = reading(
        send(
            PIR_TOPIC,
            {
                "illuminance": 21000,
                "illuminance_lux": 125,
                "linkquality": 144,
                "device_temperature": 27,
                "temperature": 22.5,
                "battery": 99.5,
                "occupancy": False,
            },
        )
    )
    assert (decoded.illuminance, decoded.motion, decoded.battery) == (125.0, False, 100)
    assert (decoded.temperature, decoded.rssi) == (22.5, None)
    assert decoded.extra == {"illuminance": 21000, "linkquality": 144, "device_temperature": 27}


def test_msg_id_is_a_hash_of_device_and_payload() -> None:
    payload = compact({"battery": 90})
    first = reading(Zigbee2MqttAdapter(directory()).decode(SMOKE_TOPIC, payload, NOW))
    again = reading(Zigbee2MqttAdapter(directory()).decode(SMOKE_TOPIC, payload, NOW))
    other = reading(Zigbee2MqttAdapter(directory()).decode("zigbee2mqtt/kitchen/gas", payload, NOW))
    assert first.msg_id == again.msg_id != other.msg_id
    assert first.msg_id.startswith("z2m:") and len(first.msg_id) <= 128


@pytest.mark.parametrize(
    ("delay", "same_ts"),
    [(timedelta(0), True), (timedelta(seconds=60), True), (timedelta(seconds=61), False)],
)
def test_a_redelivery_repeats_ts_within_the_window(delay: timedelta, same_ts: bool) -> None:
    gateway = adapter()
    payload = compact({"battery": 90, "smoke": False})
    first = reading(gateway.decode(SMOKE_TOPIC, payload, NOW))
    again = reading(gateway.decode(SMOKE_TOPIC, payload, NOW + delay))
    assert (first.ts == again.ts) is same_ts
    assert again.received_at == NOW + delay


@pytest.mark.parametrize(
    ("last_seen", "expected"),
    [
        ("2026-11-28T00:15:00.117Z", "2026-11-28T00:15:00.117000+00:00"),
        ("2026-11-28T08:15:00+08:00", "2026-11-28T00:15:00+00:00"),
        (1795824900000, "2026-11-28T00:15:00+00:00"),
        ("5 seconds ago", NOW.isoformat()),
        ("2020-01-01T00:00:00Z", NOW.isoformat()),  # gateway clock far off
    ],
)
def test_last_seen_becomes_ts(last_seen: object, expected: str) -> None:
    decoded = reading(send(SMOKE_TOPIC, {"last_seen": last_seen, "smoke": False}))
    assert decoded.ts.isoformat() == expected
    used = decoded.ts != NOW
    assert (decoded.extra is None) is used


def test_memory_is_one_entry_per_registered_device() -> None:
    gateway = adapter()
    for n in range(200):
        gateway.decode(f"zigbee2mqtt/stranger {n}", b'{"smoke": true}', NOW)
        gateway.decode(SMOKE_TOPIC, compact({"smoke": n % 2 == 0}), NOW)
    assert list(gateway.states) == [SMOKE.device_id]
    gateway.forget(SMOKE.device_id)
    assert gateway.states == {}


def test_another_base_topic() -> None:
    gateway = Zigbee2MqttAdapter(directory(), base_topic="z2m-home1")
    assert reading(gateway.decode("z2m-home1/kitchen/gas", b'{"gas": false}', NOW)).gas is False
    assert gateway.decode("z2m-home1/bridge/state", b"online", NOW) == []


HS1EB_PRESS = compact({"action": "single", "battery": 100, "linkquality": 120, "voltage": 3000})


def event_keys(decoded: list[Decoded]) -> list[tuple[object, str]]:
    """What the events table's unique index sees (device_id is the same here)."""
    return [(item.ts, item.msg_id) for item in decoded if isinstance(item, Event)]


@pytest.mark.parametrize("seconds", [20, 1, 60])
def test_a_second_identical_press_is_a_new_press(seconds: int) -> None:
    """An elder presses twice; without last_seen the two messages are the same bytes.
    Zigbee2MQTT never caches `action`, so the second is a press of its own: it must not
    get the first one's ts (then its event would be a duplicate and be dropped)."""
    gateway = adapter()
    delay = timedelta(seconds=seconds)
    first = gateway.decode(BUTTON_TOPIC, HS1EB_PRESS, NOW)
    again = gateway.decode(BUTTON_TOPIC, HS1EB_PRESS, NOW + delay)
    assert events(first) == events(again) == [(EventKind.BUTTON_PRESS, {"action": "single"})]
    assert reading(again).ts == NOW + delay
    assert set(event_keys(first)).isdisjoint(event_keys(again))


def test_a_rise_with_the_bytes_of_an_earlier_message_is_a_new_alarm() -> None:
    """smoke true, false, true again within a minute: the third message repeats the
    first one's bytes, and is a new alarm with a ts of its own."""
    gateway = adapter()
    alarm = compact({"battery": 90, "smoke": True})
    first = gateway.decode(SMOKE_TOPIC, alarm, NOW)
    cleared = compact({"battery": 90, "smoke": False})
    gateway.decode(SMOKE_TOPIC, cleared, NOW + timedelta(seconds=5))
    again = gateway.decode(SMOKE_TOPIC, alarm, NOW + timedelta(seconds=10))
    assert events(first) == events(again) == [ALARM]
    assert set(event_keys(first)).isdisjoint(event_keys(again))


def test_a_rise_after_a_restart_is_never_given_an_old_ts() -> None:
    """The state kept for a device says the last message had these bytes and no flag up
    (e.g. restored with its flags cleared): a rise is a new alarm, whatever the bytes."""
    alarm = compact({"battery": 90, "smoke": True})
    msg_id = reading(adapter().decode(SMOKE_TOPIC, alarm, NOW)).msg_id
    states = {SMOKE.device_id: Z2mDeviceState(frozenset(), msg_id, NOW)}
    result = z2m.decode(SMOKE_TOPIC, alarm, NOW + timedelta(seconds=20), directory(), states)
    assert events(result.decoded) == [ALARM]
    assert reading(result.decoded).ts == NOW + timedelta(seconds=20)


def test_a_redelivered_alarm_is_stored_once() -> None:
    """The dedup that stays: the same alarm message again (QoS 1 redelivery, or the
    gateway republishing its state) raises nothing new and reuses the reading's ts."""
    gateway = adapter()
    alarm = compact({"battery": 90, "smoke": True})
    first = gateway.decode(SMOKE_TOPIC, alarm, NOW)
    again = gateway.decode(SMOKE_TOPIC, alarm, NOW + timedelta(seconds=20))
    assert events(first) == [ALARM] and events(again) == []
    assert (reading(again).ts, reading(again).msg_id) == (reading(first).ts, reading(first).msg_id)


@pytest.mark.parametrize(
    ("topic", "action"), [(SMOKE_TOPIC, "single"), (PIR_TOPIC, "region_1_enter")]
)
def test_an_action_from_a_sensor_is_noted_and_the_rest_stored(topic: str, action: str) -> None:
    """An FP1 registered with a model text we do not know sends region events as
    `action`: the whole message, presence and battery, was once refused as wrong_type."""
    decoded = send(topic, {"action": action, "battery": 80})
    first, note = decoded
    assert isinstance(first, Reading) and isinstance(note, Rejected)
    assert first.battery == 80 and first.extra == {"action": action}
    assert note.reason == QuarantineReason.SCHEMA
    assert "has no buttons, kept in extra" in note.detail and "rest of the message" in note.detail
