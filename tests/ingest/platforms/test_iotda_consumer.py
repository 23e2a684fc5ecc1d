"""`nuanxin platforms iotda` against the machine's RabbitMQ (AMQP 1.0 plugin) and a real
PostgreSQL: each message stored once and settled only after its commit — through
redelivery, SIGKILL and a database outage — bad input quarantined while the consumer
keeps running, and a refused login reported without a busy loop."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from simulators.iotda import property_report, status_change
from tests.support.alerting_stack import WORKER, alerting_stack
from tests.support.databases import migrated, migrated_database
from tests.support.iotda_stack import IotdaStack, amqp_queue, queue_depth
from tests.support.metrics import scrape
from tests.support.servers import free_port, own_postgres

IOTDA_ID, IMEI = "5f1c0e3b2d4a9c0001a1b2c3_861234567890123", "861234567890123"
HEARTBEAT = {"devState": 0, "electricQuantity": 100, "temperature": 219, "signal": 12}


@pytest.fixture
def stack() -> Iterator[IotdaStack]:
    with migrated_database() as url, amqp_queue() as queue:
        stack = IotdaStack(url, queue)
        stack.register("smoke-1", IOTDA_ID, IMEI)
        yield stack
        stack.stop_all()


def readings(stack: IotdaStack) -> int:
    return int(stack.scalar("SELECT count(*) FROM readings"))


def quarantined(stack: IotdaStack, reason: str) -> int:
    return int(stack.scalar("SELECT count(*) FROM quarantine WHERE reason = %s", reason))


def reports(count: int, start: datetime | None = None) -> list[dict[str, object]]:
    start = start or datetime.now(UTC) - timedelta(hours=1)
    return [
        property_report(IOTDA_ID, HEARTBEAT, node_id=IMEI, when=start + timedelta(seconds=i))
        for i in range(count)
    ]


def test_a_message_is_stored_once_and_settled_after_the_commit(stack: IotdaStack) -> None:
    stack.start_consumer()
    with stack.publisher() as publisher:
        publisher.send(property_report(IOTDA_ID, HEARTBEAT, node_id=IMEI))
    stack.wait_for(lambda: readings(stack) == 1, "the reading")
    stack.wait_for(lambda: queue_depth(stack.queue) == 0, "the delivery to be settled")
    row = stack.scalar("SELECT array[battery::text, temperature::text] FROM readings")
    assert row == ["100", "21.9"]


def test_the_same_message_twice_is_stored_once(stack: IotdaStack) -> None:
    stack.start_consumer()
    message = property_report(IOTDA_ID, HEARTBEAT, node_id=IMEI, request_id="same-request")
    unnamed = property_report(IOTDA_ID, {"devState": 0}, node_id=IMEI, request_id=None)
    marker = property_report(IOTDA_ID, {"devState": 0, "electricQuantity": 55}, node_id=IMEI)
    with stack.publisher() as publisher:
        for body in (message, message, unnamed, unnamed, marker):
            publisher.send(body)
    stack.wait_for(
        lambda: stack.scalar("SELECT count(*) FROM readings WHERE battery = 55") == 1, "the marker"
    )
    assert readings(stack) == 3
    stack.wait_for(lambda: queue_depth(stack.queue) == 0, "every delivery settled")


def test_a_killed_consumer_loses_nothing_and_stores_nothing_twice(stack: IotdaStack) -> None:
    messages = reports(3000)
    with stack.publisher() as publisher:
        for body in messages:
            publisher.send(body)
    first = stack.start_consumer()
    stack.wait_for(lambda: readings(stack) >= 300, "some batches committed")
    stack.kill(first)  # between a commit and its settlement, as likely as not
    assert readings(stack) < 3000, "the kill came too late to test anything"
    stack.start_consumer()
    stack.wait_for(lambda: readings(stack) >= 3000, "the rest after the restart")
    stack.wait_for(lambda: queue_depth(stack.queue) == 0, "every delivery settled")
    distinct = stack.scalar("SELECT count(DISTINCT msg_id) FROM readings")
    assert readings(stack) == distinct == 3000


def test_an_unknown_device_and_garbage_are_quarantined_and_the_consumer_goes_on(
    stack: IotdaStack,
) -> None:
    consumer = stack.start_consumer()
    ghost = property_report("p_869999999999999", {"devState": 1}, node_id="869999999999999")
    with stack.publisher() as publisher:
        publisher.send(ghost)
        publisher.send(b"\x00\xff\xfe not json at all")
        publisher.send(b'{"resource": "device.property"}')
        publisher.send(property_report(IOTDA_ID, HEARTBEAT, node_id=IMEI))
    stack.wait_for(lambda: readings(stack) == 1, "the good message after the bad ones")
    stack.wait_for(lambda: queue_depth(stack.queue) == 0, "the bad ones settled too")
    assert quarantined(stack, "unknown_device") == 1
    assert quarantined(stack, "bad_json") == 1
    assert quarantined(stack, "schema") == 1
    detail = stack.scalar("SELECT detail FROM quarantine WHERE reason = 'unknown_device'")
    assert "869999999999999" in detail
    assert consumer.poll() is None


def test_status_changes_move_the_device_online_and_offline(stack: IotdaStack) -> None:
    stack.start_consumer()
    online = "SELECT online FROM device_state WHERE device_id = 'smoke-1'"
    start = datetime.now(UTC) - timedelta(minutes=5)
    with stack.publisher() as publisher:
        publisher.send(status_change(IOTDA_ID, True, node_id=IMEI, when=start))
    stack.wait_for(lambda: _maybe(stack, online) is True, "online")
    with stack.publisher() as publisher:
        publisher.send(status_change(IOTDA_ID, False, when=start + timedelta(minutes=1)))
    stack.wait_for(lambda: _maybe(stack, online) is False, "offline")


def _maybe(stack: IotdaStack, sql: str) -> object:
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(sql).fetchone()
    return None if row is None else row[0]


def test_a_wanlin_fire_report_opens_a_smoke_alert() -> None:
    with alerting_stack() as alerting, amqp_queue() as queue:
        with psycopg.connect(alerting.database_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE devices SET model = 'NB306', platform = 'iotda', platform_device_id = %s"
                " WHERE device_id = 'smoke-1'",
                (IOTDA_ID,),
            )
        stack = IotdaStack(alerting.database_url, queue)
        try:
            stack.start_consumer()
            with stack.publisher() as publisher:
                publisher.send(property_report(IOTDA_ID, {"devState": 1, "smokescope": 40}))
            stack.wait_for(
                lambda: stack.scalar("SELECT count(*) FROM alert_outbox") >= 2, "the signals"
            )
            alerting.run()
            alerts = [a for a in alerting.alerts() if a["device_id"] == "smoke-1"]
            assert [(a["rule"], a["severity"]) for a in alerts] == [("smoke", "critical")]
            assert alerting.sms_to(WORKER), "the community worker was not told"
        finally:
            stack.stop_all()


def test_database_down_settles_nothing_and_all_is_stored_once_back() -> None:
    with own_postgres() as postgres, amqp_queue() as queue:
        stack = IotdaStack(migrated(postgres.url), queue)
        stack.register("smoke-1", IOTDA_ID, IMEI)
        consumer = stack.start_consumer()
        with stack.publisher() as publisher:
            for body in reports(200):
                publisher.send(body)
            stack.wait_for(lambda: readings(stack) == 200, "the first 200")

            postgres.stop(mode="immediate")
            for body in reports(300, start=datetime.now(UTC) - timedelta(minutes=30)):
                publisher.send(body)
        stack.wait_for(
            lambda: stack.logged(consumer, "database unavailable"), "the consumer to notice"
        )
        threading.Event().wait(3)  # the outage lasts some seconds
        assert queue_depth(queue) == 300, "a delivery was settled without its commit"
        assert consumer.poll() is None, "the consumer exited during the outage"
        postgres.start()

        stack.wait_for(lambda: readings(stack) == 500, "the backlog after the outage")
        stack.wait_for(lambda: queue_depth(queue) == 0, "every delivery settled")
        assert stack.scalar("SELECT count(DISTINCT msg_id) FROM readings") == 500
        stack.stop_all()


def test_wrong_credentials_fail_clearly_are_counted_and_do_not_spin(stack: IotdaStack) -> None:
    port = free_port()
    consumer = stack.start_consumer(
        wait=False, password="not-the-password", NUANXIN_METRICS_PORT=str(port)
    )
    stack.wait_for(lambda: stack.logged(consumer, "amqp login refused"), "the refusal")
    threading.Event().wait(5)
    refusals = [line for line in stack.logs[consumer.pid] if "amqp login refused" in line]
    assert 1 <= len(refusals) <= 4, refusals  # backoff 1, 2, 4 s: no busy loop
    assert "unauthorized" in refusals[0] and "access key" in refusals[0]
    assert "not-the-password" not in "".join(stack.logs[consumer.pid])
    samples = scrape(f"http://127.0.0.1:{port}")
    assert samples[("nuanxin_amqp_login_failures_total", ())] == len(refusals)
    assert consumer.poll() is None
    consumer.terminate()
    assert consumer.wait(30) == 0
