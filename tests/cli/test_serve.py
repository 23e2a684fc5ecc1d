"""`nuanxin serve`: everything in one process, stopped by SIGTERM under load without
losing or doubling a reading; /metrics is valid Prometheus text that counts what came."""

import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.broker import BrokerInfo, project_broker
from tests.support.cli import run_nuanxin, start_nuanxin
from tests.support.databases import migrated_database
from tests.support.ingest_stack import LOAD_PASSWORD, LOAD_USER, IngestStack
from tests.support.metrics import scrape
from tests.support.publisher import Publisher, readings
from tests.support.servers import free_port, throwaway_database

DEVICES = [f"pir-{i:03d}" for i in range(50)]


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


def start_serve(stack: IngestStack, port: int) -> tuple[object, str]:
    env = stack.env(stack.ingest_account("nuanxin-serve-test"), NUANXIN_API_PORT=str(port))
    process = start_nuanxin("serve", env=env)
    stack.processes.append(process)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("serve never became ready")


def stored(stack: IngestStack) -> int:
    return int(stack.scalar("SELECT count(*) FROM readings"))


def test_sigterm_under_load_loses_and_doubles_nothing(stack: IngestStack) -> None:
    port = free_port()
    serve, _ = start_serve(stack, port)
    publisher = Publisher(stack.broker, LOAD_USER, LOAD_PASSWORD)
    sender = threading.Thread(target=publisher.publish_all, args=(readings(DEVICES, 20_000),))
    sender.start()
    stack.wait_for(lambda: stored(stack) >= 500, "the stream to flow")
    serve.send_signal(signal.SIGTERM)  # type: ignore[attr-defined]
    assert serve.wait(60) == 0  # type: ignore[attr-defined]
    sender.join(120)
    assert stored(stack) < 20_000, "serve finished everything before it was stopped"

    start_serve(stack, port)  # the broker kept the session: the rest arrives
    stack.wait_for(lambda: stored(stack) >= 20_000, "the rest after the restart")
    time.sleep(1)
    assert stored(stack) == 20_000
    assert stack.scalar("SELECT count(DISTINCT (device_id, msg_id)) FROM readings") == 20_000
    publisher.close()


def test_metrics_are_prometheus_text_counting_what_was_sent(stack: IngestStack) -> None:
    _, base = start_serve(stack, free_port())
    publisher = Publisher(stack.broker, LOAD_USER, LOAD_PASSWORD)
    publisher.publish_all(readings(DEVICES, 300))
    publisher.publish_all([("nuanxin/v1/pir-001/telemetry", b"not json")] * 7)
    stack.wait_for(lambda: stored(stack) == 300, "the readings")
    stack.wait_for(lambda: stack.scalar("SELECT count(*) FROM quarantine") == 7, "quarantine")
    time.sleep(0.5)

    samples = scrape(base)
    assert samples[("nuanxin_ingest_messages_total", ())] == 307
    assert samples[("nuanxin_ingest_stored_total", (("kind", "reading"),))] == 300
    assert samples[("nuanxin_ingest_quarantined_total", (("reason", "bad_json"),))] == 7
    assert samples[("nuanxin_ingest_broker_connected", ())] == 1
    assert ("nuanxin_ingest_batch_seconds_count", ()) in samples
    publisher.close()


def test_serve_refuses_an_unmigrated_database_in_one_line(broker: BrokerInfo) -> None:
    with throwaway_database() as url:
        stack = IngestStack(url, broker)
        result = run_nuanxin("serve", env=stack.env(), timeout=60)
    assert result.returncode != 0
    assert "nuanxin migrate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_alerting_alone_serves_its_metrics_when_given_a_port(stack: IngestStack) -> None:
    port = free_port()
    stack.processes.append(start_nuanxin("alerting", env=stack.env(NUANXIN_METRICS_PORT=str(port))))
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO alert_outbox (device_id, ts, msg_id, received_at, signal)"
            " VALUES (%s, now(), 'm1', now(), 'tamper')",
            (DEVICES[0],),
        )
    processed = ("nuanxin_alert_outbox_processed_total", ())

    def counted() -> bool:
        try:
            return scrape(f"http://127.0.0.1:{port}").get(processed) == 1
        except httpx.HTTPError:
            return False

    stack.wait_for(counted, "the engine's /metrics counting the signal")


def test_a_metrics_port_in_use_is_one_line_naming_the_variable(stack: IngestStack) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_nuanxin("alerting", env=stack.env(NUANXIN_METRICS_PORT=str(port)))
    assert result.returncode != 0
    assert "NUANXIN_METRICS_PORT" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
