"""The Zigbee2MQTT gateway simulator against a real Mosquitto: its messages look like the
real bridge's (whole sorted state, availability, names with "/" and spaces) and decode,
through ingest's Router, into one event per transition."""

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from core.types import DeviceType, EventKind
from device_registry.provisioning import BrokerAdmin
from ingest.adapters import Router, StaticDirectory
from ingest.messages import Decoded, DeviceInfo, Event, Reading, Status
from simulators.accounts import gateway_account
from simulators.devices import UnsupportedTrigger
from simulators.mqtt import Endpoint
from simulators.zigbee2mqtt import MODELS, Zigbee2MqttGateway, check_friendly_name
from tests.simulators.support import Listener, decode

GATEWAY = ("gateway-wang", "gateway-secret")
# friendly name → (model, registered device id)
NAMES = {
    "王奶奶家/厨房 smoke": ("HS1SA", "hs1sa-wang-kitchen"),
    "kitchen gas": ("HS1CG", "hs1cg-li-kitchen"),
    "李爷爷/bedside SOS": ("HS1EB", "hs1eb-li-bedside"),
    "zhao/living room/SOS": ("SEB01ZB", "seb01zb-zhao-living"),
    "0x00158d0001a2b3c4": ("RTCGQ11LM", "rtcgq11lm-wang-hall"),
}


@pytest.fixture
def gateway_login(admin: BrokerAdmin) -> tuple[str, str]:
    gateway_account(admin, *GATEWAY)
    return GATEWAY


GatewayFactory = Callable[..., Zigbee2MqttGateway]


@pytest.fixture
def make_gateway(endpoint: Endpoint, gateway_login: tuple[str, str]) -> Iterator[GatewayFactory]:
    """A gateway with every device of NAMES paired (not started); stopped after the test."""
    built: list[Zigbee2MqttGateway] = []

    def make(
        *, legacy_availability: bool = False, last_seen: bool = False, action_reset: bool = False
    ) -> Zigbee2MqttGateway:
        gateway = Zigbee2MqttGateway(
            endpoint,
            *gateway_login,
            legacy_availability=legacy_availability,
            last_seen=last_seen,
            action_reset=action_reset,
        )
        for name, (model, _) in NAMES.items():
            gateway.add(name, model)
        built.append(gateway)
        return gateway

    yield make
    for gateway in built:
        gateway.stop()


def router() -> Router:
    devices = [
        DeviceInfo(device_id, MODELS[model].device_type) for model, device_id in NAMES.values()
    ]
    return Router(StaticDirectory(devices, {n: d for n, (_, d) in NAMES.items()}))


def decode_all(listener: Listener, gateway: Zigbee2MqttGateway) -> list[tuple[str, Decoded]]:
    """(topic, decoded) of everything the gateway published, checked to arrive as sent."""
    last = gateway.published[-1]
    received = listener.take_until(last.topic, last.payload)
    assert [(r.topic, r.payload) for r in received] == [
        (p.topic, p.payload) for p in gateway.published
    ]
    ingest = router()
    return [(r.topic, item) for r in received for item in decode(ingest, r)]


def events(
    decoded: list[tuple[str, Decoded]], name: str
) -> list[tuple[EventKind, dict[str, object]]]:
    return [
        (d.event, d.detail)
        for t, d in decoded
        if t == f"zigbee2mqtt/{name}" and isinstance(d, Event)
    ]


def test_smoke_flag_held_in_the_whole_state_raises_exactly_one_alarm(
    make_gateway: GatewayFactory, listener: Listener
) -> None:
    gateway = make_gateway()
    gateway.start()
    smoke = gateway.devices["王奶奶家/厨房 smoke"]
    smoke.smoke(True)
    smoke.battery(95)  # a battery report while smoke is present: the whole state again
    smoke.report()
    smoke.smoke(False)
    gateway.wait_acked()

    decoded = decode_all(listener, gateway)

    assert events(decoded, smoke.name) == [
        (EventKind.ALARM, {"sensor": "smoke"}),
        (EventKind.ALARM_CLEAR, {"sensor": "smoke"}),
    ]
    states = [p for p in gateway.published if p.topic == smoke.topic]
    for state in states:
        body = json.loads(state.payload)
        assert list(body) == sorted(body)
        assert set(MODELS["HS1SA"].state) | {"linkquality"} == set(body)
    readings = [d for t, d in decoded if t == smoke.topic and isinstance(d, Reading)]
    assert [r.smoke for r in readings] == [False, True, True, True, False]
    assert readings[2].battery == 95


def test_every_model_decodes_and_its_triggers_make_the_right_events(
    make_gateway: GatewayFactory, listener: Listener
) -> None:
    gateway = make_gateway(action_reset=True)
    gateway.start()
    devices = gateway.devices
    devices["kitchen gas"].gas(True)
    devices["kitchen gas"].tamper()
    devices["李爷爷/bedside SOS"].press()
    devices["zhao/living room/SOS"].press()
    devices["zhao/living room/SOS"].battery(12)
    devices["0x00158d0001a2b3c4"].occupancy()
    devices["0x00158d0001a2b3c4"].occupancy(False)
    devices["王奶奶家/厨房 smoke"].self_test()
    gateway.wait_acked()

    decoded = decode_all(listener, gateway)

    assert not [d for _, d in decoded if not isinstance(d, Reading | Event | Status)]
    statuses = [d for _, d in decoded if isinstance(d, Status)]
    assert sorted(s.device_id for s in statuses if s.online) == sorted(d for _, d in NAMES.values())
    assert events(decoded, "kitchen gas") == [
        (EventKind.ALARM, {"sensor": "gas"}),
        (EventKind.TAMPER, {"sensor": "tamper"}),
    ]
    assert events(decoded, "李爷爷/bedside SOS") == [(EventKind.BUTTON_PRESS, {"action": "single"})]
    assert events(decoded, "zhao/living room/SOS") == [
        (EventKind.BUTTON_PRESS, {"sensor": "sos"}),
        (EventKind.LOW_BATTERY, {"sensor": "battery_low"}),
    ]
    assert events(decoded, "0x00158d0001a2b3c4") == []
    motion = [d.motion for t, d in decoded if "0x00158d" in t and isinstance(d, Reading)]
    assert motion == [False, True, False]
    assert events(decoded, "王奶奶家/厨房 smoke") == [(EventKind.SELF_TEST, {"sensor": "test"})]
    # the bridge's own topic is the gateway's business, not ingest's
    assert any(p.topic == "zigbee2mqtt/bridge/state" for p in gateway.published)
    assert not [t for t, _ in decoded if t.startswith("zigbee2mqtt/bridge")]


def test_legacy_gateway_uses_plain_words_and_last_seen_becomes_the_reading_time(
    make_gateway: GatewayFactory, listener: Listener, endpoint: Endpoint
) -> None:
    gateway = make_gateway(legacy_availability=True, last_seen=True)
    gateway.start()
    sos = gateway.devices["李爷爷/bedside SOS"]
    sos.availability(False)
    gateway.wait_acked()

    decoded = decode_all(listener, gateway)

    availability = [p.payload for p in gateway.published if p.kind == "availability"]
    assert set(availability[:-1]) == {b"online"} and availability[-1] == b"offline"
    statuses = [d for t, d in decoded if t == f"{sos.topic}/availability"]
    assert [s.online for s in statuses if isinstance(s, Status)] == [True, False]
    for published in (p for p in gateway.published if p.kind == "state"):
        seen = json.loads(published.payload)["last_seen"]
        assert seen.endswith("Z")
        reading = next(d for t, d in decoded if t == published.topic and isinstance(d, Reading))
        assert reading.ts == datetime.fromisoformat(seen).astimezone(UTC)


def test_dropped_gateway_leaves_its_bridge_offline_will(
    make_gateway: GatewayFactory, listener: Listener
) -> None:
    gateway = make_gateway()
    gateway.start()
    gateway.wait_acked()
    gateway.drop()

    assert not gateway.connected
    assert gateway.published[-1].kind == "will"
    decode_all(listener, gateway)  # all arrived as logged, the broker's will last
    assert (gateway.published[-1].topic, json.loads(gateway.published[-1].payload)) == (
        "zigbee2mqtt/bridge/state",
        {"state": "offline"},
    )


def test_friendly_names_follow_zigbee2mqtts_rules() -> None:
    for good in ("王奶奶家/厨房 smoke", "zhao/living room/SOS", "0x00158d0001a2b3c4"):
        assert check_friendly_name(good) == good
    for bad in ("", "/hall", "hall/", "hall/2", "hall/", "a+b", "a#", "tab\there"):
        with pytest.raises(ValueError):
            check_friendly_name(bad)


def test_a_trigger_the_model_lacks_is_refused(endpoint: Endpoint) -> None:
    gateway = Zigbee2MqttGateway(endpoint, "unused", "unused")
    gas = gateway.add("kitchen gas", "HS1CG")
    with pytest.raises(UnsupportedTrigger):
        gas.press()
    with pytest.raises(UnsupportedTrigger):
        gas.smoke(True)
    assert DeviceType.GAS is MODELS["HS1CG"].device_type
