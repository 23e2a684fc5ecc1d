"""`nuanxin simulate --homes N` registers its homes and their messages are stored."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker import BrokerInfo, project_broker
from tests.support.cli import run_nuanxin
from tests.support.databases import migrated_database
from tests.support.ingest_stack import LOAD_PASSWORD, LOAD_USER, IngestStack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[IngestStack]:
    with project_broker(tmp_path) as broker, migrated_database() as url:
        stack = IngestStack(url, broker)
        stack.setup_accounts()
        yield stack
        stack.stop_all()


def test_simulated_homes_publish_and_are_stored(stack: IngestStack, broker: BrokerInfo) -> None:
    stack.start_ingest()
    result = run_nuanxin(
        "simulate",
        "--homes",
        "20",
        "--username",
        LOAD_USER,
        "--password",
        LOAD_PASSWORD,
        "--heartbeat-s",
        "1",
        "--speed",
        "60",
        "--duration",
        "4",
        env=stack.env(),
    )
    assert result.returncode == 0, result.stderr
    assert "20 homes (80 devices) publishing" in result.stdout
    assert stack.scalar("SELECT count(*) FROM devices WHERE device_id LIKE 'sim-%'") == 80
    stack.wait_for(
        lambda: stack.scalar("SELECT count(DISTINCT device_id) FROM readings") == 80,
        "a heartbeat from every simulated device",
    )


@pytest.fixture
def broker(stack: IngestStack) -> BrokerInfo:
    return stack.broker
