"""The routing table, the directory, and the consistency of the declarative tables."""

from dataclasses import fields

from core.types import DeviceType, EventKind
from ingest.adapters import ROUTES, Route, Router, StaticDirectory
from ingest.adapters.fields import EVENT_TYPES, SENSOR_FIELDS
from ingest.adapters.native import NativeAdapter
from ingest.adapters.zigbee2mqtt import ACTIONS, BUTTON, KEYS, UNMAPPED_ACTION
from ingest.messages import DeviceInfo, QuarantineReason, Reading, Status
from tests.ingest.support import NOW, PIR, SMOKE, body, directory, only_rejected


def test_routes_and_subscriptions() -> None:
    router = Router(directory())
    assert router.subscriptions == ["nuanxin/v1/#", "zigbee2mqtt/#"]
    assert isinstance(router.decode("nuanxin/v1/smoke-001/telemetry", body(), NOW)[0], Reading)
    assert isinstance(
        router.decode("zigbee2mqtt/kitchen/gas/availability", b"online", NOW)[0], Status
    )


def test_unrouted_topic_is_bad_topic() -> None:
    for topic in ("zigbee2mqttx/a", "nuanxin/v2/smoke-001/telemetry", "", "#"):
        assert (
            only_rejected(Router(directory()).decode(topic, b"{}", NOW)).reason
            == QuarantineReason.BAD_TOPIC
        )


def test_longest_prefix_wins() -> None:
    special = Route(
        "nuanxin/v1/smoke-001/",
        "nuanxin/v1/smoke-001/#",
        lambda d: NativeAdapter(StaticDirectory()),
    )
    router = Router(directory(), (*ROUTES, special))
    decoded = router.decode("nuanxin/v1/smoke-001/telemetry", body(), NOW)
    assert only_rejected(decoded).reason == QuarantineReason.UNKNOWN_DEVICE


def test_router_keeps_zigbee_state_between_messages() -> None:
    router = Router(directory())
    first = router.decode("zigbee2mqtt/王奶奶家/厨房 smoke", b'{"smoke":true}', NOW)
    second = router.decode("zigbee2mqtt/王奶奶家/厨房 smoke", b'{"smoke":true,"battery":5}', NOW)
    assert (len(first), len(second)) == (2, 1)


def test_static_directory() -> None:
    found = StaticDirectory(
        [SMOKE, PIR], {"hall": PIR.device_id, "0xABCDEF0123456789": SMOKE.device_id}
    )
    assert found.by_id(SMOKE.device_id) == SMOKE and found.by_id("nobody") is None
    assert found.by_zigbee("hall") == PIR and found.by_zigbee("Hall") is None
    assert found.by_zigbee("0xabcdef0123456789") == SMOKE


def test_sensor_fields_are_reading_attributes() -> None:
    envelope = {"device_id", "ts", "msg_id", "received_at", "extra"}
    assert set(SENSOR_FIELDS) == {f.name for f in fields(Reading)} - envelope


def test_every_event_kind_has_senders() -> None:
    assert set(EVENT_TYPES) == set(EventKind)


def test_zigbee_keys_only_raise_events_their_senders_may_send() -> None:
    for key, spec in KEYS.items():
        senders = SENSOR_FIELDS[spec.field].types if spec.field else spec.types
        for kind in filter(None, (spec.rise, spec.fall)):
            assert senders <= EVENT_TYPES[kind], key
    for action in {*ACTIONS.values(), UNMAPPED_ACTION}:
        assert action is None or EVENT_TYPES[action] >= BUTTON


def test_each_type_has_a_zigbee_key() -> None:
    covered = {
        t
        for spec in KEYS.values()
        for t in (SENSOR_FIELDS[spec.field].types if spec.field else spec.types)
    }
    assert covered == set(DeviceType)
    assert DeviceInfo("x-1", DeviceType.PIR).device_type in covered
