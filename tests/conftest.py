"""Fixtures shared by every suite. Each test gets real servers, never mocks:
a throwaway database on the local PostgreSQL, or the WebAssembly TimescaleDB server."""

from collections.abc import Iterator

import pytest

from tests.support.fixtures_broker import broker, tls_broker  # noqa: F401
from tests.support.prerequisites import missing
from tests.support.servers import throwaway_database, timescaledb_server


@pytest.fixture
def empty_database() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    with throwaway_database() as url:
        yield url


@pytest.fixture(scope="session")
def timescaledb_url() -> Iterator[str]:
    """URL of a TimescaleDB server shared by the session (one database, one session)."""
    with timescaledb_server() as url:
        yield url


@pytest.fixture
def fresh_timescaledb_url() -> Iterator[str]:
    """URL of a TimescaleDB server of the test's own, for tests that need it empty."""
    with timescaledb_server() as url:
        yield url


def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    """Stop before the first test when the machine lacks something the collected tests
    need, saying what and how to get it (tests/support/prerequisites.py)."""
    lines = missing(item.path for item in items)
    if lines:
        pytest.exit("the tests cannot run here:\n  " + "\n  ".join(lines), returncode=4)
