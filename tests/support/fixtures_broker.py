"""Pytest fixtures for a Mosquitto running the project's configuration (see broker.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker import BrokerInfo, project_broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerInfo]:
    """A broker of the test's own: dynamic security with only its admin account, no TLS."""
    with project_broker(tmp_path) as info:
        yield info


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[BrokerInfo]:
    """As `broker`, plus the TLS listener with a throwaway CA (`tls_port`, `ca_file`)."""
    with project_broker(tmp_path, tls=True) as info:
        yield info
