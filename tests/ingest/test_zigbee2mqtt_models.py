"""Model-aware Zigbee2MQTT decoding: a device registered with a catalogue model is read
through that model's row (presence as motion, gas concentration into % LEL, warm-up that
is not an all-clear, a chip's temperature that is not the room's); a device of unknown
model through the generic key table."""

from typing import Any

import pytest

from core import catalog
from core.types import DeviceType, EventKind
from ingest.adapters import StaticDirectory
from ingest.adapters.zigbee2mqtt import Zigbee2MqttAdapter
from ingest.messages import Decoded, DeviceInfo, Event, QuarantineReason, Reading, Rejected
from tests.ingest.support import NOW, compact

TOPIC = "zigbee2mqtt/王奶奶家/device"


def gateway(device_type: DeviceType, model: str | None) -> Zigbee2MqttAdapter:
    device = DeviceInfo("dev-1", device_type, model)
    return Zigbee2MqttAdapter(StaticDirectory([device], {"王奶奶家/device": "dev-1"}))


def send(
    into: Zigbee2MqttAdapter, payload: dict[str, Any] | bytes, topic: str = TOPIC
) -> list[Decoded]:
    raw = payload if isinstance(payload, bytes) else compact(payload)
    return into.decode(topic, raw, NOW)


def reading(decoded: list[Decoded]) -> Reading:
    assert isinstance(decoded[0], Reading), decoded
    return decoded[0]


def events(decoded: list[Decoded]) -> list[EventKind]:
    return [item.event for item in decoded if isinstance(item, Event)]


@pytest.mark.parametrize("model", ["tuya-zg-204zm", "aqara-rtczcgq11lm", None])
def test_presence_is_motion(model: str | None) -> None:
    """A ZG-204ZM whose `presence` landed in extra left last_motion_at still: an elder
    sitting in front of it got an inactivity alert. Unknown models read it too."""
    pir = gateway(DeviceType.PIR, model)
    seen = reading(send(pir, {"presence": True, "motion_state": "static", "battery": 100}))
    assert seen.motion is True
    assert "presence" not in (seen.extra or {})
    assert reading(send(pir, {"presence": False})).motion is False


def test_presence_unknown_is_no_reading() -> None:
    fp1 = gateway(DeviceType.PIR, "aqara-rtczcgq11lm")
    assert reading(send(fp1, {"presence": None, "device_temperature": 31})).motion is None


def test_fp1_region_events_are_not_button_presses() -> None:
    """The FP1 publishes `action` region events; for a PIR the generic table would call
    that a wrong device type and quarantine the whole message, presence and all."""
    fp1 = gateway(DeviceType.PIR, "aqara-rtczcgq11lm")
    decoded = send(fp1, {"action": "region_1_enter", "presence": True})
    assert [type(item) for item in decoded] == [Reading]
    assert reading(decoded).motion is True
    assert reading(decoded).extra == {"action": "region_1_enter"}


@pytest.mark.parametrize(
    ("model", "key", "value", "lel"),
    [
        ("aqara-jt-bz-01aq-a", "gas_density", 12, 12.0),
        ("tuya-ts0601-gas-sensor-2", "gas_value", 14.5, 14.5),
    ],
)
def test_gas_concentration_is_lel(model: str, key: str, value: float, lel: float) -> None:
    detector = gateway(DeviceType.GAS, model)
    seen = reading(send(detector, {key: value, "gas": False}))
    assert seen.gas_lel == lel
    assert key not in (seen.extra or {})


def test_gas_concentration_of_an_unknown_model_stays_extra() -> None:
    seen = reading(send(gateway(DeviceType.GAS, None), {"gas_density": 12, "gas": False}))
    assert seen.gas_lel is None and seen.extra == {"gas_density": 12}


AQARA_GAS = "aqara-jt-bz-01aq-a"


def test_warm_up_never_clears_an_open_gas_alarm() -> None:
    """Aqara's `state: "preparation"` came with gas false and density 0 and read as the
    all-clear of a real alarm."""
    detector = gateway(DeviceType.GAS, AQARA_GAS)
    alarm = send(detector, {"gas": True, "gas_density": 30, "state": "work"})
    assert events(alarm) == [EventKind.ALARM]
    warming = send(detector, {"gas": False, "gas_density": 0, "state": "preparation"})
    assert events(warming) == []
    seen = reading(warming)
    assert (seen.gas, seen.gas_lel) == (None, None)
    assert seen.extra == {"gas": False, "gas_density": 0, "state": "preparation"}
    # Measuring again, still gas: no new alarm (it never cleared); then a real clear.
    assert events(send(detector, {"gas": True, "gas_density": 25, "state": "work"})) == []
    cleared = send(detector, {"gas": False, "gas_density": 0, "state": "work"})
    assert events(cleared) == [EventKind.ALARM_CLEAR]
    assert (reading(cleared).gas, reading(cleared).gas_lel) == (False, 0.0)


def test_warm_up_does_not_hide_an_alarm() -> None:
    detector = gateway(DeviceType.GAS, AQARA_GAS)
    decoded = send(detector, {"gas": True, "gas_density": 0, "state": "preparation"})
    assert events(decoded) == [EventKind.ALARM]
    assert reading(decoded).gas is True and reading(decoded).gas_lel is None


def test_tuya_preheat_is_warm_up() -> None:
    detector = gateway(DeviceType.GAS, "tuya-ts0601-gas-sensor-2")
    assert events(send(detector, {"gas": True, "gas_value": 20, "preheat": False})) == [
        EventKind.ALARM
    ]
    warming = send(detector, {"gas": False, "gas_value": 0, "preheat": True})
    assert events(warming) == [] and reading(warming).gas_lel is None


@pytest.mark.parametrize("key", ["temperature", "device_temperature"])
def test_a_chip_temperature_is_not_the_room(key: str) -> None:
    button = gateway(DeviceType.EMERGENCY_BUTTON, "aqara-wxkg11lm")
    seen = reading(send(button, {key: 33, "battery": 91, "voltage": 3015}))
    assert seen.temperature is None
    assert seen.extra == {key: 33, "voltage": 3015}


def test_wxkg11lm_press_and_release() -> None:
    button = gateway(DeviceType.EMERGENCY_BUTTON, "aqara-wxkg11lm")
    assert events(send(button, {"action": "single", "temperature": 30})) == [EventKind.BUTTON_PRESS]
    assert events(send(button, {"action": "release"})) == []


def test_an_unknown_model_still_reads_temperature() -> None:
    seen = reading(send(gateway(DeviceType.EMERGENCY_BUTTON, None), {"temperature": 33}))
    assert seen.temperature == 33.0


@pytest.mark.parametrize("suffix", ["/availability", ""])
@pytest.mark.parametrize("payload", [b""])
def test_an_empty_retained_payload_is_no_message(suffix: str, payload: bytes) -> None:
    """Zigbee2MQTT clears a renamed device's retained topics with an empty payload; that
    is the broker deleting a retained message, not a malformed one."""
    pir = gateway(DeviceType.PIR, None)
    assert send(pir, payload, TOPIC + suffix) == []
    # Also for a name nobody registered (the old name after a rename).
    assert send(pir, payload, "zigbee2mqtt/old name" + suffix) == []


def test_a_model_row_does_not_widen_what_a_type_may_send() -> None:
    """A PIR registered with a gas model's row is still a PIR: gas keys are refused."""
    wrong = gateway(DeviceType.PIR, AQARA_GAS)
    [rejected] = send(wrong, {"gas": True, "gas_density": 40})
    assert isinstance(rejected, Rejected) and rejected.reason == QuarantineReason.WRONG_TYPE


def test_every_zigbee_model_key_is_readable() -> None:
    """Each row's fields name reading fields that exist (or None) and fit its kind."""
    from ingest.adapters.fields import SENSOR_FIELDS

    for model in catalog.models_for(catalog.Transport.ZIGBEE2MQTT):
        for key, scaled in model.fields.items():
            if scaled.field is not None:
                assert model.kind in SENSOR_FIELDS[scaled.field].types, (model.key, key)


def test_an_fp1_of_unknown_model_keeps_its_presence() -> None:
    """Registered as "FP1" (no catalogue row): its region `action` once got the whole
    message quarantined, so its presence never kept the elder active."""
    fp1 = gateway(DeviceType.PIR, "FP1")
    decoded = send(fp1, {"presence": True, "action": "region_1_enter", "linkquality": 90})
    assert reading(decoded).motion is True
    assert reading(decoded).extra == {"action": "region_1_enter", "linkquality": 90}
    [note] = decoded[1:]
    assert isinstance(note, Rejected) and note.reason == QuarantineReason.SCHEMA


PRESENCE_WORDS = [
    ("none", False),
    ("presence", True),
    ("peaceful", True),  # breathing only: still someone there
    ("small_movement", True),
    ("large_movement", True),
    ("motion", True),
    ("stationary", True),
    ("NONE", False),
    ("PRESENCE", True),
]


@pytest.mark.parametrize("model", [None, "ZG-205Z", "no such model"])
@pytest.mark.parametrize(("word", "motion"), PRESENCE_WORDS)
def test_presence_state_is_motion(model: str | None, word: str, motion: bool) -> None:
    """ZG-205Z `presence_state` went to extra; with converters that left `presence`
    null it was the only presence there was."""
    radar = gateway(DeviceType.PIR, model)
    seen = reading(send(radar, {"presence": None, "presence_state": word}))
    assert seen.motion is motion and "presence_state" not in (seen.extra or {})


def test_presence_wins_over_presence_state() -> None:
    radar = gateway(DeviceType.PIR, None)
    seen = reading(send(radar, {"presence": False, "presence_state": "presence"}))
    assert seen.motion is False and seen.extra == {"presence_state": "presence"}


@pytest.mark.parametrize(("word", "motion"), [("none", False), ("presence", True), ("move", True)])
@pytest.mark.parametrize("model", ["ZY-M100-24G", "ZY-M100-24GV2", "_TZE204_gkfbdvyx"])
def test_zy_m100_state_is_motion(model: str, word: str, motion: bool) -> None:
    radar = gateway(DeviceType.PIR, model)
    assert reading(send(radar, {"state": word, "presence": None})).motion is motion


def test_state_is_not_presence_for_other_models() -> None:
    """`state` means a gas detector's warm-up, a switch's ON/OFF: only a row reads it."""
    seen = reading(send(gateway(DeviceType.PIR, None), {"state": "presence"}))
    assert seen.motion is None and seen.extra == {"state": "presence"}


def test_an_unknown_presence_word_is_reported_not_guessed() -> None:
    decoded = send(gateway(DeviceType.PIR, None), {"presence_state": "sleeping", "battery": 50})
    first, note = decoded
    assert isinstance(first, Reading) and (first.motion, first.battery) == (None, 50)
    assert isinstance(note, Rejected) and "presence_state" in note.detail
