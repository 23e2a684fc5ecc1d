"""Ingest over MQTT with TLS: the project broker's TLS listener with a certificate made in
the test, verified against its CA (NUANXIN_MQTT_URL=mqtts://…, NUANXIN_MQTT_CA_FILE)."""

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker import BrokerInfo, project_broker
from tests.support.cli import start_nuanxin
from tests.support.databases import migrated_database
from tests.support.ingest_stack import LOAD_PASSWORD, LOAD_USER, IngestStack
from tests.support.publisher import Publisher, readings

DEVICES = [f"pir-{i:02d}" for i in range(10)]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[IngestStack]:
    with project_broker(tmp_path, tls=True) as broker, migrated_database() as url:
        stack = IngestStack(url, broker)
        stack.setup_accounts()
        stack.register("pir", DEVICES)
        yield stack
        stack.stop_all()


def tls_env(broker: BrokerInfo) -> dict[str, str]:
    assert broker.tls_port is not None and broker.ca_file is not None
    return {
        "NUANXIN_MQTT_URL": f"mqtts://127.0.0.1:{broker.tls_port}",
        "NUANXIN_MQTT_CA_FILE": str(broker.ca_file),
    }


def test_ingest_over_tls_stores_what_devices_send(stack: IngestStack) -> None:
    stack.start_ingest(**tls_env(stack.broker))
    publisher = Publisher(stack.broker, LOAD_USER, LOAD_PASSWORD)
    publisher.publish_all(readings(DEVICES, 200))
    stack.wait_for(lambda: stack.scalar("SELECT count(*) FROM readings") == 200, "200 readings")
    publisher.close()


def test_ingest_refuses_a_broker_it_cannot_verify(stack: IngestStack, tmp_path: Path) -> None:
    """With the system CAs instead of the test CA the handshake fails: nothing is trusted
    by accident, and ingest keeps retrying instead of exiting."""
    env = tls_env(stack.broker)
    del env["NUANXIN_MQTT_CA_FILE"]
    ingest = start_nuanxin("ingest", env=stack.env(**env))
    stack.processes.append(ingest)
    with contextlib.suppress(subprocess.TimeoutExpired):
        ingest.wait(3)
    publisher = Publisher(stack.broker, LOAD_USER, LOAD_PASSWORD)
    publisher.publish_all(readings(DEVICES, 20))
    with contextlib.suppress(subprocess.TimeoutExpired):
        ingest.wait(3)
    assert ingest.poll() is None, "ingest exited instead of retrying"
    assert stack.scalar("SELECT count(*) FROM readings") == 0  # it never got in
    publisher.close()
