"""Native-contract simulators against a real Mosquitto running the project configuration:
whatever a simulated device publishes reaches a platform subscriber and decodes, through
ingest's own Router, into the Reading, Event or Status it stands for."""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.types import DeviceType, EventKind
from ingest.adapters import Router, StaticDirectory
from ingest.messages import DeviceInfo, Event, Reading, Rejected, Status
from simulators.devices import (
    MALFORMED,
    PROFILES,
    DeviceSilent,
    SimulatedDevice,
    Trigger,
    UnsupportedTrigger,
)
from simulators.mqtt import Endpoint, Published
from tests.simulators.conftest import HEARTBEAT_S, PLATFORM, DeviceFactory
from tests.simulators.support import Listener, Received, decode

B, S, G, P = DeviceType.EMERGENCY_BUTTON, DeviceType.SMOKE, DeviceType.GAS, DeviceType.PIR
E = EventKind

# What each type's script does, the events it must produce in order, and readings that
# must be among the decoded ones (attribute subsets).
SCRIPTS: dict[DeviceType, Callable[[SimulatedDevice], object]] = {
    B: lambda d: (d.press(), d.self_test(ok=False), d.low_battery()),
    S: lambda d: (d.smoke(True), d.smoke(True), d.smoke(False), d.tamper(), d.self_test()),
    G: lambda d: (d.gas_leak(25.0), d.gas_leak(30.0), d.gas_clear(), d.self_test()),
    P: lambda d: (d.motion(illuminance=35.0), d.tamper(), d.tamper(opened=False)),
}
EVENTS: dict[DeviceType, list[tuple[EventKind, dict[str, Any]]]] = {
    B: [
        (E.BUTTON_PRESS, {"presses": 1}),
        (E.SELF_TEST, {"result": "fail"}),
        (E.LOW_BATTERY, {"battery": 15}),
    ],
    S: [
        (E.ALARM, {"sensor": "smoke", "density": 4.2}),
        (E.ALARM_CLEAR, {"sensor": "smoke"}),
        (E.TAMPER, {"sensor": "tamper"}),
        (E.SELF_TEST, {"result": "pass"}),
    ],
    G: [
        (E.ALARM, {"sensor": "gas", "gas_lel": 25.0}),
        (E.ALARM_CLEAR, {"sensor": "gas"}),
        (E.SELF_TEST, {"result": "pass"}),
    ],
    P: [(E.TAMPER, {"sensor": "tamper"})],
}
READINGS: dict[DeviceType, list[dict[str, Any]]] = {
    B: [{"battery": 15, "battery_low": True, "smoke": None, "motion": None}],
    S: [{"smoke": True, "smoke_density": 4.2}, {"smoke": False, "smoke_density": 0.0}],
    G: [{"gas": True, "gas_lel": 30.0, "battery": None}, {"gas": False, "gas_lel": 0.0}],
    P: [{"motion": True, "illuminance": 35.0}, {"motion": False, "tamper": True}],
}


def router_for(*devices: SimulatedDevice) -> Router:
    return Router(StaticDirectory(DeviceInfo(d.device_id, d.device_type) for d in devices))


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def delivered(listener: Listener, device: SimulatedDevice) -> list[Received]:
    """What the platform received, checked to be exactly what the device published."""
    last = device.published[-1]
    received = listener.take_until(last.topic, last.payload)
    assert [(r.topic, r.payload) for r in received] == [
        (p.topic, p.payload) for p in device.published
    ]
    return received


def check_decoded(sent: Published, decoded: object, device: SimulatedDevice) -> None:
    if sent.kind == "telemetry":
        assert isinstance(decoded, Reading), decoded
        assert (decoded.msg_id, decoded.ts, decoded.extra) == (sent.msg_id, sent.ts, None)
    elif sent.kind == "event":
        assert isinstance(decoded, Event), decoded
        assert (decoded.msg_id, decoded.ts) == (sent.msg_id, sent.ts)
    else:
        assert isinstance(decoded, Status), decoded
        assert decoded.online == (b'"online"' in sent.payload)
        assert (decoded.ts, decoded.firmware) == (sent.ts, device.firmware)


@pytest.mark.parametrize("device_type", list(DeviceType))
def test_every_message_decodes_into_what_the_device_meant(
    make_device: DeviceFactory, listener: Listener, device_type: DeviceType
) -> None:
    device = make_device(f"sim-{device_type.value.replace('_', '-')}-01", device_type)
    device.start()
    SCRIPTS[device_type](device)
    scripted = len(device.published)
    wait_until(lambda: len(device.published) >= scripted + 2)  # two heartbeats
    device.stop()
    device.wait_acked()
    assert all(p.acked for p in device.published)

    router = router_for(device)
    decoded = []
    for sent, received in zip(device.published, delivered(listener, device), strict=True):
        items = decode(router, received)
        assert len(items) == 1, items
        check_decoded(sent, items[0], device)
        decoded.append(items[0])

    events = [(d.event, d.detail) for d in decoded if isinstance(d, Event)]
    assert events == EVENTS[device_type]
    readings = [d for d in decoded if isinstance(d, Reading)]
    for wanted in READINGS[device_type]:
        assert any(all(getattr(r, k) == v for k, v in wanted.items()) for r in readings), wanted
    stored = [d.msg_id for d in decoded if isinstance(d, Reading | Event)]
    assert stored == device.msg_ids()
    assert len(set(device.msg_ids("telemetry", "event", "status"))) == len(device.published)
    assert all(m.startswith(f"{device.device_id}-") for m in stored)


def test_drop_makes_the_broker_publish_the_retained_will(
    make_device: DeviceFactory, listener: Listener, endpoint: Endpoint
) -> None:
    device = make_device("sim-pir-drop", P)
    device.start(heartbeats=False)
    device.heartbeat()
    device.wait_acked()

    device.drop()

    assert not device.connected
    will = device.published[-1]
    assert will.kind == "will"
    received = delivered(listener, device)
    assert decode(router_for(device), received[-1]) == [
        Status(device.device_id, False, received[-1].received_at, None, device.firmware)
    ]
    with Listener(endpoint, *PLATFORM, device.topic("status")) as late:
        retained = late.take(1)[0]
    assert (retained.payload, retained.retain) == (will.payload, True)


def test_a_dropped_device_starts_again_with_fresh_msg_ids(
    make_device: DeviceFactory, listener: Listener
) -> None:
    device = make_device("sim-btn-again", B)
    device.start(heartbeats=False)
    device.drop()
    device.start(heartbeats=False)
    device.press()
    received = delivered(listener, device)
    kinds = [p.kind for p in device.published]
    assert kinds == ["status", "will", "status", "event"]
    assert [r.topic.rsplit("/", 1)[1] for r in received] == ["status"] * 3 + ["event"]
    assert len(set(device.msg_ids("status", "will", "event"))) == 4


def test_a_message_no_subscription_matched_is_reported_unrouted(
    make_device: DeviceFactory,
) -> None:
    device = make_device("sim-btn-alone", B)  # nobody subscribed: the broker says so
    device.start(heartbeats=False)
    pressed = device.press()
    device.wait_acked()
    assert pressed and all(message in device.unrouted() for message in pressed)


def test_a_message_a_subscriber_received_is_not_unrouted(
    make_device: DeviceFactory, listener: Listener
) -> None:
    device = make_device("sim-btn-heard", B)
    device.start(heartbeats=False)
    device.press()
    device.wait_acked()
    assert device.unrouted() == []


def test_a_silent_device_stays_connected_and_publishes_nothing(
    make_device: DeviceFactory, listener: Listener
) -> None:
    device = make_device("sim-smoke-mute", S)
    device.start()
    wait_until(lambda: len(device.published) >= 2)  # online + a heartbeat

    device.go_silent()
    before = len(device.published)
    time.sleep(4 * HEARTBEAT_S)  # absence takes waiting: four heartbeat intervals

    assert len(device.published) == before
    assert device.connected
    with pytest.raises(DeviceSilent):
        device.smoke(True)
    device.resume()
    wait_until(lambda: len(device.published) > before)
    device.stop()
    assert len(delivered(listener, device)) == len(device.published)


def test_readings_carry_the_injected_clock(make_device: DeviceFactory, listener: Listener) -> None:
    moments = [datetime(2026, 11, 27, 7, 0, 0, 123456, tzinfo=UTC)]

    def clock() -> datetime:
        return moments[-1]

    device = make_device("sim-pir-clock", P, now=clock)
    device.start(heartbeats=False)
    device.heartbeat()
    moments.append(moments[-1] + timedelta(hours=2))
    device.motion()
    received = delivered(listener, device)

    router = router_for(device)
    readings = [decode(router, r)[0] for r in received[1:]]
    assert [r.ts for r in readings if isinstance(r, Reading)] == [
        datetime(2026, 11, 27, 7, 0, 0, 123000, tzinfo=UTC),
        datetime(2026, 11, 27, 9, 0, 0, 123000, tzinfo=UTC),
    ]
    assert b'"ts":"2026-11-27T07:00:00.123+00:00"' in device.published[1].payload


def test_the_battery_drains_and_crossing_the_low_mark_is_reported_once(
    make_device: DeviceFactory, listener: Listener
) -> None:
    device = make_device("sim-btn-drain", B)
    device.battery = 20.015
    device.start(heartbeats=False)
    for _ in range(4):
        device.heartbeat()

    router = router_for(device)
    decoded = [decode(router, r)[0] for r in delivered(listener, device)]
    events = [d.event for d in decoded if isinstance(d, Event)]
    assert events == [EventKind.LOW_BATTERY]
    batteries = [(d.battery, d.battery_low) for d in decoded if isinstance(d, Reading)]
    assert batteries == [(20, False), (20, False), (20, True), (20, True)]


def test_each_malformed_kind_is_quarantined_for_its_reason(
    make_device: DeviceFactory, listener: Listener
) -> None:
    devices = [make_device(f"sim-bad-{t.value.replace('_', '-')}", t) for t in DeviceType]
    # Provisioned at the broker, unknown to the registry: only such an account can send a
    # valid message for a device the directory does not hold.
    orphan = make_device("sim-orphan", S)
    router = router_for(*devices)
    for device in [*devices, orphan]:
        device.start(heartbeats=False)
        delivered(listener, device)

    for device in devices:
        for kind, row in MALFORMED.items():
            if not row.passes_broker:  # tests/ingest/test_payload_limit.py
                continue
            sender = device if row.registered else orphan
            sent = sender.send_malformed(kind)
            received = listener.take_until(sent.topic, sent.payload)[-1]
            decoded = decode(router, received)
            assert len(decoded) == 1 and isinstance(decoded[0], Rejected), (kind, decoded)
            assert decoded[0].reason == row.reason, (device.device_type, kind, decoded[0])


ATTEMPTS: dict[Trigger, Callable[[SimulatedDevice], object]] = {
    Trigger.PRESS: SimulatedDevice.press,
    Trigger.SMOKE: lambda d: d.smoke(True),
    Trigger.GAS: lambda d: d.gas_leak(20.0),
    Trigger.MOTION: SimulatedDevice.motion,
    Trigger.LOW_BATTERY: SimulatedDevice.low_battery,
}


def test_a_trigger_the_profile_lacks_is_refused_before_anything_is_sent() -> None:
    nowhere = Endpoint("127.0.0.1", 9)
    for device_type, profile in PROFILES.items():
        device = SimulatedDevice("sim-none", device_type, "unused", nowhere)
        for trigger, attempt in ATTEMPTS.items():
            if trigger not in profile.triggers:
                with pytest.raises(UnsupportedTrigger):
                    attempt(device)
        assert device.published == []
