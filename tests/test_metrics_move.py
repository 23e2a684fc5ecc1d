"""Every metric the code declares moves when the system does what it counts: operators
alarm on these figures (deploy/monitoring), so a metric that is declared and never set
would hide the very outage it names.

The declarations are found by scanning the code (as tests/deploy/test_monitoring.py
does), and each must have a driver in DRIVERS: a new metric without one fails
`test_every_declared_metric_has_a_driver` by name. Each driver makes the system do the
thing for real — traffic, a retried push, a refused login, a dropped database
connection, a poisoned row — and the test reads Prometheus text from a real /metrics:

- ingest: `nuanxin ingest` in its own process, against the project's broker and
  PostgreSQL, read on its NUANXIN_METRICS_PORT;
- engine: the alert engine (local Twilio behind it) and the API with the carrier push
  routes run in this test's process; the API, served by uvicorn, exports this process's
  registry at /metrics, so the engine's figures are read there over HTTP too;
- iotda: `nuanxin platforms iotda` in its own process against the machine's RabbitMQ,
  read on its metrics port.

A driver that starts a process of its own compares with the metric's zero state (what
Prometheus sees of a process that was not running); the others scrape before they act.
Gauges that go up and down again (queue depth) are read continuously while the driver
acts, so a value they only held for a moment still counts.
"""

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from core.types import EventKind
from simulators.carriers import PushSender
from tests.platforms.support import CTWING_TOKEN, SMOKE, PlatformStack, platform_stack
from tests.support.broker import project_broker
from tests.support.databases import migrated_database
from tests.support.ingest_stack import LOAD_PASSWORD, LOAD_USER, IngestStack
from tests.support.iotda_stack import IotdaStack, amqp_queue
from tests.support.metrics import Samples, scrape
from tests.support.publisher import Publisher, readings
from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "cli", "embedded", "ingest", "alerting", "device_registry", "api")
DECLARED = re.compile(r"\b(?:Counter|Gauge|Histogram|Summary|Info|Enum)\(\s*\"(nuanxin_\w+)\"")
SUFFIXES = ("_total", "_bucket", "_count", "_sum")
DEVICES = [f"pir-{i:02d}" for i in range(10)]
MOVE_TIMEOUT_S = 45.0


def declared_metrics() -> set[str]:
    """The base names of every metric the running service declares."""
    names: set[str] = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            names |= set(DECLARED.findall(path.read_text(encoding="utf-8")))
    return {name.removesuffix("_total") for name in names}


def family(samples: Samples, base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of one metric (its counter, buckets, count and sum; not `_created`)."""
    names = {base, *(base + suffix for suffix in SUFFIXES)}
    return {key: value for key, value in samples.items() if key[0] in names}


def zero_state(values: dict[Any, float]) -> bool:
    return all(value == 0 for value in values.values())


# --- the running pieces -------------------------------------------------------------------


@dataclass
class World:
    ingest: IngestStack
    ingest_url: str
    publisher: Publisher
    platforms: PlatformStack
    iotda: IotdaStack
    spare_port: int = 0  # for a driver that starts a process of its own
    _seq: int = field(default=0)

    def next_tag(self) -> str:
        self._seq += 1
        return f"drive{self._seq}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with (
        project_broker(tmp_path_factory.mktemp("broker")) as broker,
        migrated_database() as url,
        amqp_queue() as queue,
        platform_stack() as platforms,
    ):
        ingest = IngestStack(url, broker)
        ingest.setup_accounts()
        ingest.register("pir", DEVICES)
        port = free_port()
        # small batches: a backlog takes many commits, so its depth is there to be seen
        ingest.start_ingest(NUANXIN_METRICS_PORT=str(port), NUANXIN_INGEST_BATCH_MAX="5")
        publisher = Publisher(broker, LOAD_USER, LOAD_PASSWORD)
        iotda = IotdaStack(url, queue)
        try:
            yield World(ingest, f"http://127.0.0.1:{port}", publisher, platforms, iotda)
        finally:
            publisher.close()
            iotda.stop_all()
            ingest.stop_all()


# --- drivers: ingest ------------------------------------------------------------------------


def publish_readings(world: World, count: int = 20, **values: Any) -> None:
    messages = readings(DEVICES, count, start=datetime.now(UTC), tag=world.next_tag())
    if values:
        messages = [(topic, _with(body, values)) for topic, body in messages]
    world.publisher.publish_all(messages)


def _with(body: bytes, values: dict[str, Any]) -> bytes:
    return json.dumps(json.loads(body) | values).encode()


def publish_twice(world: World) -> None:
    message = readings(DEVICES, 1, start=datetime.now(UTC), tag=world.next_tag())
    world.publisher.publish_all(message)
    world.ingest.wait_for(lambda: _stored(world, message[0][1]), "the first delivery")
    world.publisher.publish_all(message)  # redelivered, as after a reconnect


def _stored(world: World, body: bytes) -> bool:
    msg_id = json.loads(body)["msg_id"]
    return bool(world.ingest.scalar("SELECT count(*) FROM readings WHERE msg_id = %s", msg_id))


def publish_garbage(world: World) -> None:
    world.publisher.publish_all([(f"nuanxin/v1/{DEVICES[0]}/telemetry", b"not json")])


def publish_a_backlog(world: World) -> None:
    """Hold the readings table while a burst arrives: ingest's commit waits, the burst
    queues up behind it, and is drained five at a time once the table is free."""
    with psycopg.connect(world.ingest.database_url) as conn:
        conn.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
        publish_readings(world, 400)
        time.sleep(1.0)
    # leaving the block commits and frees the table


def drop_the_database_connection(world: World) -> None:
    """The database ends ingest's session (a restart or failover does the same); its next
    commit fails, is counted and retried on a new connection."""
    with psycopg.connect(world.ingest.database_url, autocommit=True) as conn:
        ended = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'nuanxin-ingest' AND datname = current_database()"
        ).fetchone()
    assert ended is not None and ended[0] >= 1, "no ingest connection to end"
    publish_readings(world, 5)


def start_another_ingest(world: World) -> None:
    world.ingest.start_ingest(
        username=world.ingest.ingest_account("nuanxin-ingest-second"),
        NUANXIN_METRICS_PORT=str(world.spare_port),
    )


# --- drivers: the engine and the carrier push routes -------------------------------------------


def report_a_battery_on_its_way_down(world: World) -> None:
    """A signal the engine evaluates without opening anything (25 % is above the alarm)."""
    stack = world.platforms.stack
    stack.reading("btn-1", battery=25)
    stack.run()


def press_the_button(world: World) -> None:
    stack = world.platforms.stack
    stack.event("btn-1", EventKind.BUTTON_PRESS)
    stack.run()


def raise_smoke_and_send(world: World) -> None:
    stack = world.platforms.stack
    stack.reading("smoke-1", smoke=True)
    stack.run()


def leave_notifications_due(world: World) -> None:
    """A gas alarm's notifications are planned, and a dispatcher that may send nothing
    counts them as due; then everything is sent."""
    stack = world.platforms.stack
    stack.reading("gas-1", gas_lel=60.0)
    stack.service.engine.process_outbox()
    stack.service.dispatcher.run_once(limit=0)
    time.sleep(0.5)  # the watcher reads the gauge while they are due
    stack.run()


def poison_an_alert(world: World) -> None:
    """The database refuses the alert a tamper signal opens (any alert, while poisoned):
    the evaluation fails, is counted, and the signal waits for its retry."""
    stack = world.platforms.stack
    with stack.pool.connection() as conn:
        conn.execute(
            "CREATE FUNCTION poisoned() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'poisoned for the test'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER poisoned BEFORE INSERT ON alerts FOR EACH ROW"
            " EXECUTE FUNCTION poisoned()"
        )
    try:
        stack.event("btn-1", EventKind.TAMPER)
        stack.service.engine.process_outbox()
    finally:
        with stack.pool.connection() as conn:
            conn.execute("DROP TRIGGER poisoned ON alerts")
            conn.execute("DROP FUNCTION poisoned()")


def push_a_report(world: World) -> None:
    _send(world, SMOKE.data_report({"Battery_Level": 80, "RSRP": -90}))


def push_twice(world: World) -> None:
    push = SMOKE.data_report({"Battery_Level": 81, "RSRP": -91})
    _send(world, push)
    _send(world, push)  # CTWing retries when our answer is late or lost


def push_with_a_wrong_token(world: World) -> None:
    with PushSender(world.platforms.base_url, CTWING_TOKEN[:-1] + "x") as wrong:
        assert wrong.send(SMOKE.data_report({"Battery_Level": 82})).status_code == 403


def _send(world: World, push: Any) -> None:
    response = world.platforms.sender.send(push)
    assert response.status_code == 200, response.text


# --- drivers: the IoTDA consumer ----------------------------------------------------------------


def start_the_consumer(world: World) -> None:
    world.iotda.start_consumer(NUANXIN_METRICS_PORT=str(world.spare_port))


def log_in_with_a_wrong_password(world: World) -> None:
    world.iotda.start_consumer(
        wait=False, password="not-the-password", NUANXIN_METRICS_PORT=str(world.spare_port)
    )


def connect_to_nothing(world: World) -> None:
    nowhere = f"amqp://guest:guest@127.0.0.1:{free_port()}"
    world.iotda.start_consumer(
        wait=False, NUANXIN_IOTDA_AMQP_URL=nowhere, NUANXIN_METRICS_PORT=str(world.spare_port)
    )


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Driver:
    drive: Callable[[World], None]
    where: str  # ingest | engine | own: the process the driver starts itself

    def url(self, world: World) -> str:
        urls = {
            "ingest": world.ingest_url,
            "engine": world.platforms.base_url,
            "own": f"http://127.0.0.1:{world.spare_port}",
        }
        return urls[self.where]


DRIVERS: dict[str, Driver] = {
    # ingest
    "nuanxin_ingest_messages": Driver(publish_readings, "ingest"),
    "nuanxin_ingest_stored": Driver(publish_readings, "ingest"),
    "nuanxin_ingest_batch_seconds": Driver(publish_readings, "ingest"),
    "nuanxin_ingest_batch_messages": Driver(publish_readings, "ingest"),
    "nuanxin_ingest_signals": Driver(lambda w: publish_readings(w, 3, battery=10), "ingest"),
    "nuanxin_ingest_duplicates": Driver(publish_twice, "ingest"),
    "nuanxin_ingest_quarantined": Driver(publish_garbage, "ingest"),
    "nuanxin_ingest_queue_depth": Driver(publish_a_backlog, "ingest"),
    "nuanxin_ingest_db_failures": Driver(drop_the_database_connection, "ingest"),
    "nuanxin_ingest_broker_connected": Driver(start_another_ingest, "own"),
    # the alert engine
    "nuanxin_alerts_opened": Driver(press_the_button, "engine"),
    "nuanxin_alert_outbox_processed": Driver(report_a_battery_on_its_way_down, "engine"),
    "nuanxin_notifications": Driver(raise_smoke_and_send, "engine"),
    "nuanxin_notifications_pending": Driver(leave_notifications_due, "engine"),
    "nuanxin_alert_outbox_failed": Driver(poison_an_alert, "engine"),
    "nuanxin_job_item_errors": Driver(poison_an_alert, "engine"),
    # carrier push routes
    "nuanxin_platform_pushes": Driver(push_a_report, "engine"),
    "nuanxin_platform_batch_seconds": Driver(push_a_report, "engine"),
    "nuanxin_platform_duplicates": Driver(push_twice, "engine"),
    "nuanxin_platform_refused": Driver(push_with_a_wrong_token, "engine"),
    # the IoTDA consumer
    "nuanxin_amqp_connected": Driver(start_the_consumer, "own"),
    "nuanxin_amqp_login_failures": Driver(log_in_with_a_wrong_password, "own"),
    "nuanxin_amqp_connection_failures": Driver(connect_to_nothing, "own"),
}


def test_every_declared_metric_has_a_driver() -> None:
    declared = declared_metrics()
    assert declared, "no metric declarations found: the scan is broken"
    assert sorted(declared - set(DRIVERS)) == [], "declared metrics no driver moves"
    assert sorted(set(DRIVERS) - declared) == [], "drivers for metrics no longer declared"


class Watcher:
    """Reads one metric from /metrics again and again until `moved` says it has."""

    def __init__(self, url: str, base: str, moved: Callable[[dict[Any, float]], bool]) -> None:
        self.url, self.base, self.moved = url, base, moved
        self.moved_to: dict[Any, float] | None = None
        self.last: dict[Any, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.last = family(scrape(self.url), self.base)
            except httpx.HTTPError:  # a process of the driver's own, not serving yet
                pass
            else:
                if self.moved(self.last):
                    self.moved_to = self.last
                    return
            self._stop.wait(0.02)

    def wait(self, timeout_s: float) -> dict[Any, float] | None:
        self._thread.join(timeout_s)
        self._stop.set()
        return self.moved_to


def started_processes(world: World) -> list[subprocess.Popen[str]]:
    return [*world.ingest.processes, *world.iotda.processes]


@pytest.mark.parametrize("metric", sorted(DRIVERS))
def test_the_metric_moves_when_the_system_does_what_it_counts(world: World, metric: str) -> None:
    driver = DRIVERS[metric]
    world.spare_port = free_port()
    url = driver.url(world)
    if driver.where == "own":  # a process that was not running: its zero state
        watcher = Watcher(url, metric, lambda now: not zero_state(now))
    else:
        before = family(scrape(url), metric)
        watcher = Watcher(url, metric, lambda now: bool(now) and now != before)
    running = started_processes(world)
    try:
        driver.drive(world)
        moved_to = watcher.wait(MOVE_TIMEOUT_S)
    finally:
        watcher.wait(0)
        for process in started_processes(world):
            if process not in running and process.poll() is None:
                process.terminate()
                process.wait(30)
    assert moved_to is not None, f"{metric} did not move: still {watcher.last}"
