"""`nuanxin ingest` over the real broker (project configuration) and database: every
published QoS 1 message stored exactly once — through redelivery, SIGKILL and a database
outage — and bad input quarantined while ingest keeps running."""

import json
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from device_registry.provisioning import BrokerAdmin
from simulators.accounts import gateway_account
from tests.support.broker import BrokerInfo, project_broker
from tests.support.databases import migrated, migrated_database
from tests.support.ingest_stack import (
    INGEST_PASSWORD,
    LOAD_PASSWORD,
    LOAD_USER,
    IngestStack,
)
from tests.support.metrics import scrape
from tests.support.mqtt_clients import connected
from tests.support.publisher import Publisher, readings
from tests.support.servers import free_port, own_postgres

DEVICES = [f"pir-{i:03d}" for i in range(100)]
GATEWAY_PASSWORD = "gateway-password-for-tests-0123456789"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerInfo]:
    with project_broker(tmp_path) as broker:
        yield broker


@pytest.fixture
def stack(broker: BrokerInfo) -> Iterator[IngestStack]:
    with migrated_database() as url:
        stack = IngestStack(url, broker)
        stack.setup_accounts()
        stack.register("pir", DEVICES)
        yield stack
        stack.stop_all()


def stored(stack: IngestStack) -> int:
    return int(stack.scalar("SELECT count(*) FROM readings"))


def distinct_stored(stack: IngestStack) -> int:
    return int(stack.scalar("SELECT count(DISTINCT (device_id, msg_id)) FROM readings"))


def test_ten_thousand_readings_are_stored_exactly_once(stack: IngestStack) -> None:
    stack.start_ingest()
    publisher = Publisher(stack.broker, LOAD_USER, LOAD_PASSWORD)
    messages = readings(DEVICES, 10_000)
    publisher.publish_all(messages)
    stack.wait_for(lambda: stored(stack) >= 10_000, "10,000 readings")
    assert stored(stack) == distinct_stored(stack) == 10_000

    # The same msg_ids again, as a device retrying after a lost PUBACK would send them.
    publisher.publish_all(messages[:2_000])
    publisher.publish_all(
        readings(DEVICES[:1], 1, start=datetime.now(UTC), tag="marker")
    )  # a marker
    stack.wait_for(lambda: stored(stack) == 10_001, "the marker after the redeliveries")
    assert distinct_stored(stack) == 10_001
    publisher.close()


def test_ingest_alone_serves_its_metrics_when_given_a_port(stack: IngestStack) -> None:
    port = free_port()
    stack.start_ingest(NUANXIN_METRICS_PORT=str(port))
    publisher = Publisher(stack.broker, LOAD_USER, LOAD_PASSWORD)
    publisher.publish_all(readings(DEVICES, 200))
    stack.wait_for(lambda: stored(stack) == 200, "200 readings")
    samples = scrape(f"http://127.0.0.1:{port}")
    assert samples[("nuanxin_ingest_stored_total", (("kind", "reading"),))] == 200
    assert samples[("nuanxin_ingest_broker_connected", ())] == 1
    publisher.close()


def test_sigkill_mid_stream_loses_and_doubles_nothing(stack: IngestStack) -> None:
    ingest = stack.start_ingest()
    publisher = Publisher(stack.broker, LOAD_USER, LOAD_PASSWORD)
    messages = readings(DEVICES, 6_000)
    sender = threading.Thread(target=publisher.publish_all, args=(messages,))
    sender.start()
    stack.wait_for(lambda: stored(stack) >= 1_000, "the stream to be flowing")
    stack.kill(ingest, signal.SIGKILL)
    killed_at = stored(stack)
    sender.join(120)
    assert killed_at < 6_000, "ingest finished before it was killed; nothing was tested"

    stack.start_ingest()  # same client id: the broker kept the session and its queue
    stack.wait_for(lambda: stored(stack) >= 6_000, "every message after the restart")
    assert stored(stack) == distinct_stored(stack) == 6_000
    publisher.close()


def test_database_outage_loses_nothing_and_ingest_keeps_running(broker: BrokerInfo) -> None:
    with own_postgres() as postgres:
        stack = IngestStack(migrated(postgres.url), broker)
        stack.setup_accounts()
        stack.register("pir", DEVICES)
        ingest = stack.start_ingest()
        publisher = Publisher(broker, LOAD_USER, LOAD_PASSWORD)
        publisher.publish_all(readings(DEVICES, 1_000))
        stack.wait_for(lambda: stored(stack) == 1_000, "the first thousand")

        postgres.stop(mode="immediate")
        start = datetime.now(UTC) + timedelta(minutes=1)
        publisher.publish_all(readings(DEVICES, 1_000, start=start, tag="late"))
        stack.wait_for(
            lambda: any("database unavailable" in line for line in stack.logs[ingest.pid]),
            "ingest to notice the outage",
        )
        threading.Event().wait(3)  # the outage lasts some seconds
        assert ingest.poll() is None, "ingest exited during the outage"
        postgres.start()

        stack.wait_for(lambda: stored(stack) == 2_000, "the backlog after the outage")
        assert distinct_stored(stack) == 2_000
        assert ingest.poll() is None
        publisher.close()
        stack.stop_all()


BAD_INPUT = [
    ("nuanxin/v1/pir-001/telemetry", b"{not json", "bad_json"),
    ("nuanxin/v1/pir-001/telemetry", b'{"msg_id": "x1"}', "schema"),
    # Over 16 KiB the broker itself refuses (tests/ingest/test_payload_limit.py); ingest's
    # own too_large quarantine is tested in test_native.py for brokers without the limit.
    (
        "nuanxin/v1/ghost-device/telemetry",
        b'{"msg_id": "x3", "ts": "2026-11-28T08:00:00+08:00"}',
        "unknown_device",
    ),
    ("nuanxin/v1/pir-001/telemetry", None, "wrong_type"),
    (
        "nuanxin/v1/pir-001/telemetry",
        b'{"msg_id": "x5", "ts": "2020-01-01T00:00:00+08:00"}',
        "ts_window",
    ),
]


def test_bad_input_is_quarantined_with_its_reason(stack: IngestStack) -> None:
    ingest = stack.start_ingest()
    publisher = Publisher(stack.broker, LOAD_USER, LOAD_PASSWORD)
    now = datetime.now(UTC).isoformat()
    wrong_type = json.dumps({"msg_id": "x4", "ts": now, "gas": True}).encode()  # a PIR
    bad = [(topic, payload or wrong_type) for topic, payload, _ in BAD_INPUT]
    publisher.publish_all(bad)
    publisher.publish_all(
        readings(DEVICES[:1], 1, start=datetime.now(UTC), tag="marker")
    )  # still alive?
    # A device may publish deeper under its own prefix; ingest must see that, not lose it.
    with BrokerAdmin(
        stack.broker.host,
        stack.broker.port,
        stack.broker.admin_username,
        stack.broker.admin_password,
    ) as admin:
        password = admin.provision_device("pir-002")
    with connected(stack.broker, "pir-002", password) as device:
        device.publish("nuanxin/v1/pir-002/telemetry/raw", b"{}")
    stack.wait_for(lambda: stored(stack) == 1, "a good reading after the bad ones")
    stack.wait_for(
        lambda: stack.scalar("SELECT count(*) FROM quarantine") == len(BAD_INPUT) + 1,
        "the deeper topic in quarantine",
    )

    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute("SELECT topic, reason, payload FROM quarantine ORDER BY id").fetchall()
    assert [reason for _, reason, _ in rows] == [
        *(reason for _, _, reason in BAD_INPUT),
        "bad_topic",
    ]
    assert rows[0][2] == b"{not json"  # raw bytes kept
    assert ingest.poll() is None
    publisher.close()


def test_zigbee2mqtt_goes_whole_to_one_process_of_the_group(stack: IngestStack) -> None:
    """An SOS button's presses are false→true transitions remembered per process: dealt
    round-robin between two processes, the second press would be missed. The process
    set not to take Zigbee2MQTT also drops the shared subscription an earlier version
    left in its session."""
    stack.register("emergency_button", ["sos-1"], zigbee_name="客厅/SOS按钮")
    first, second = (
        stack.ingest_account("nuanxin-ingest-a"),
        stack.ingest_account("nuanxin-ingest-b"),
    )
    with connected(
        stack.broker, second, INGEST_PASSWORD, client_id=second, session_expiry_s=3600
    ) as old_session:
        assert old_session.subscribe("$share/g/zigbee2mqtt/#") is not None
    stack.start_ingest(username=first, NUANXIN_INGEST_SHARE_GROUP="g")
    stack.start_ingest(
        username=second, NUANXIN_INGEST_SHARE_GROUP="g", NUANXIN_INGEST_ZIGBEE2MQTT="false"
    )
    with BrokerAdmin(
        stack.broker.host,
        stack.broker.port,
        stack.broker.admin_username,
        stack.broker.admin_password,
    ) as admin:
        gateway_account(admin, "gateway-1", GATEWAY_PASSWORD)
    gateway = Publisher(stack.broker, "gateway-1", GATEWAY_PASSWORD)
    topic = "zigbee2mqtt/客厅/SOS按钮"
    states = [True, False, True, False, True, False]
    gateway.publish_all(
        (topic, json.dumps({"sos": sos, "battery": 90 - i, "linkquality": 120}).encode())
        for i, sos in enumerate(states)
    )
    publisher = Publisher(stack.broker, LOAD_USER, LOAD_PASSWORD)
    publisher.publish_all(readings(DEVICES[:1], 20))  # native traffic is still split
    stack.wait_for(
        lambda: stack.scalar("SELECT count(*) FROM readings WHERE device_id = 'sos-1'") == 6,
        "the six Zigbee2MQTT states",
    )
    stack.wait_for(lambda: stored(stack) == 26, "the native readings too")
    presses = stack.scalar(
        "SELECT count(*) FROM events WHERE device_id = 'sos-1' AND event = 'button_press'"
    )
    assert presses == 3
    gateway.close()
    publisher.close()
