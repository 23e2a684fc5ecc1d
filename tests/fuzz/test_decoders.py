"""Hypothesis over every payload decoder, through the Router as ingest uses it: arbitrary
bytes, JSON close to the contract (valid envelopes with mutated fields, wrong types, huge
numbers, unicode, nested junk) and odd topics never raise, always give typed messages, and
every Rejected keeps the payload (or its 16 KiB prefix) and a reason. The quarantine path
then stores whatever the decoders rejected, in a real migrated database."""

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.adapters import Router
from ingest.adapters.payload import MAX_PAYLOAD_BYTES
from ingest.messages import Decoded, Event, QuarantineReason, Reading, Rejected, Status
from ingest.writer import prepare, write_batch
from tests.ingest.support import NOW, TS, ZIGBEE, directory
from tests.support.databases import migrated_database

FUZZ = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KNOWN_IDS = ["btn-001", "smoke-001", "gas-001", "pir-001"]
KINDS = ["telemetry", "event", "status", "cmd", "", "telemetry/extra", "TELEMETRY"]
FIELDS = ["msg_id", "ts", "event", "detail", "state", "fw", "battery", "battery_low", "rssi"]
FIELDS += ["temperature", "tamper", "smoke", "smoke_density", "gas", "gas_lel", "motion"]
FIELDS += ["illuminance", "occupancy", "action", "linkquality", "last_seen", "device"]
EVENTS = ["button_press", "alarm", "alarm_clear", "tamper", "self_test", "fault", "low_battery"]

# What an MQTT broker can deliver as a topic: UTF-8 without U+0000 (MQTT 5 §1.5.4; Mosquitto
# disconnects a client that publishes anything else). A topic with NUL would fail the
# quarantine COPY (PostgreSQL text cannot hold NUL), so ingest relies on the broker here.
MQTT_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")

device_ids = st.one_of(
    st.sampled_from(KNOWN_IDS),
    st.from_regex(r"[A-Za-z0-9_-]{3,64}", fullmatch=True),
    st.text(MQTT_CHARS, max_size=80),  # slashes, '+', '#', emoji, empty
)
friendly_names = st.one_of(
    st.sampled_from(sorted(ZIGBEE)),
    st.text(MQTT_CHARS, max_size=60),
    st.lists(st.text(MQTT_CHARS, max_size=12), min_size=1, max_size=4).map("/".join),
)
topics = st.one_of(
    st.builds(lambda d, k: f"nuanxin/v1/{d}/{k}", device_ids, st.sampled_from(KINDS)),
    friendly_names.map(lambda name: f"zigbee2mqtt/{name}"),
    friendly_names.map(lambda name: f"zigbee2mqtt/{name}/availability"),
    st.sampled_from(["zigbee2mqtt/bridge/state", "zigbee2mqtt/x/set", "nuanxin/v1/"]),
    st.text(MQTT_CHARS, max_size=100),
)

huge_numbers = st.sampled_from([2**63, -(2**63) - 1, 10**400, 1e308, -1e308, 5e-324, 2**53 + 1])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    huge_numbers,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "online", "offline", "single", TS, "9" * 400, *EVENTS]),
)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), inner, max_size=5),
    ),
    max_leaves=20,
)
timestamps = st.one_of(
    st.just(TS),
    st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=30),
)
envelopes = st.fixed_dictionaries(
    {"msg_id": st.one_of(st.text(min_size=1, max_size=70), junk), "ts": timestamps},
    optional={
        "event": st.one_of(st.sampled_from(EVENTS), junk),
        "detail": junk,
        "state": st.one_of(st.sampled_from(["online", "offline"]), junk),
        "fw": junk,
        "battery": st.one_of(st.integers(-5, 105), junk),
        "smoke": st.one_of(st.booleans(), junk),
        "gas": st.one_of(st.booleans(), junk),
        "gas_lel": st.one_of(st.floats(allow_nan=False), junk),
        "motion": st.one_of(st.booleans(), junk),
        "occupancy": st.one_of(st.booleans(), junk),
        "action": st.one_of(st.sampled_from(["single", "double", "hold"]), junk),
        "linkquality": junk,
        "tamper": junk,
    },
)


def encode(value: Any, ascii_only: bool) -> bytes:
    # surrogatepass lets lone surrogates through as invalid UTF-8, as a buggy device sends them
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


payloads = st.one_of(
    st.binary(max_size=512),
    st.binary(min_size=MAX_PAYLOAD_BYTES - 2, max_size=MAX_PAYLOAD_BYTES + 40),
    st.builds(encode, envelopes, st.booleans()),
    st.builds(encode, junk, st.booleans()),
    st.builds(
        lambda env, pad: encode({**env, "pad": "x" * pad}, True),
        envelopes,
        st.integers(MAX_PAYLOAD_BYTES - 100, MAX_PAYLOAD_BYTES + 100),
    ),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


def check(topic: str, payload: bytes, decoded: list[Decoded]) -> None:
    assert isinstance(decoded, list)
    for item in decoded:
        assert isinstance(item, Reading | Event | Status | Rejected), item
        if isinstance(item, Rejected):
            assert item.topic == topic
            assert isinstance(item.reason, QuarantineReason)
            assert item.detail
            assert item.payload == payload[:MAX_PAYLOAD_BYTES]
        elif isinstance(item, Reading | Event):
            assert item.ts.tzinfo is not None and item.msg_id
            assert NOW - timedelta(days=30) <= item.ts <= NOW + timedelta(hours=24)
        if isinstance(item, Reading):
            for name in ("smoke", "gas", "motion", "tamper", "battery_low"):
                assert getattr(item, name) in (None, True, False)
            assert item.battery is None or type(item.battery) is int


@FUZZ
@given(topic=topics, payload=payloads)
def test_router_never_raises_and_types_everything(topic: str, payload: bytes) -> None:
    check(topic, payload, Router(directory()).decode(topic, payload, NOW))


@FUZZ
@given(
    device=st.sampled_from(KNOWN_IDS),
    kind=st.sampled_from(["telemetry", "event", "status"]),
    envelope=envelopes,
)
def test_native_envelopes_with_mutated_fields(device: str, kind: str, envelope: Any) -> None:
    topic, payload = f"nuanxin/v1/{device}/{kind}", encode(envelope, False)
    decoded = Router(directory()).decode(topic, payload, NOW)
    check(topic, payload, decoded)
    assert len(decoded) == 1  # a native message is stored once, as data or in quarantine


@FUZZ
@given(
    name=st.sampled_from(sorted(ZIGBEE)),
    states=st.lists(st.dictionaries(st.sampled_from(FIELDS), junk, max_size=6), max_size=4),
)
def test_zigbee_state_sequences(name: str, states: list[dict[str, Any]]) -> None:
    """Z2M keeps per-device flags in memory between messages: feed one router a sequence."""
    router = Router(directory())
    for state in states:
        payload = encode(state, False)
        check(f"zigbee2mqtt/{name}", payload, router.decode(f"zigbee2mqtt/{name}", payload, NOW))


@pytest.fixture(scope="module")
def quarantine_db() -> Iterator[psycopg.Connection[Any]]:
    with migrated_database("nuanxin_fuzz") as url, psycopg.connect(url) as conn:
        prepare(conn)
        yield conn


@settings(FUZZ, max_examples=60)
@given(batch=st.lists(st.tuples(topics, payloads), min_size=1, max_size=8))
def test_quarantine_stores_every_rejected(
    quarantine_db: psycopg.Connection[Any], batch: list[tuple[str, bytes]]
) -> None:
    conn = quarantine_db
    router = Router(directory())
    rejected = [
        item
        for topic, payload in batch
        for item in router.decode(topic, payload, NOW)
        if isinstance(item, Rejected)
    ]
    before = conn.execute("SELECT count(*) FROM quarantine").fetchone()
    result = write_batch(conn, rejected)
    after = conn.execute("SELECT count(*) FROM quarantine").fetchone()
    conn.commit()
    assert before is not None and after is not None
    assert result.quarantined == len(rejected) == after[0] - before[0]
    rows = conn.execute(
        "SELECT topic, payload, reason, detail FROM quarantine ORDER BY id DESC LIMIT %s",
        (len(rejected),),
    ).fetchall()
    conn.commit()
    stored = sorted((r[0], bytes(r[1]), r[2], r[3]) for r in rows)
    expected = sorted((q.topic, q.payload, q.reason.value, q.detail) for q in rejected)
    assert stored == expected
