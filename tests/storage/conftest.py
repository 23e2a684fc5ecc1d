"""The storage suite runs every test against plain PostgreSQL and against TimescaleDB."""

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from tests.support.databases import migrated
from tests.support.servers import throwaway_database


@dataclass(frozen=True)
class Storage:
    kind: str  # "postgresql" or "timescaledb"
    url: str

    @property
    def timescale(self) -> bool:
        return self.kind == "timescaledb"

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url, autocommit=True)


def _migrated(url: str) -> str:
    return migrated(url, parameters={"readings_retention_days": "400"})


@pytest.fixture(scope="module")
def plain_postgres_url() -> Iterator[str]:
    with throwaway_database() as url:
        yield _migrated(url)


@pytest.fixture(params=["postgresql", "timescaledb"])
def storage(request: pytest.FixtureRequest) -> Storage:
    if request.param == "postgresql":
        return Storage("postgresql", request.getfixturevalue("plain_postgres_url"))
    return Storage("timescaledb", _migrated(request.getfixturevalue("timescaledb_url")))


@pytest.fixture
def timescale(timescaledb_url: str) -> Storage:
    return Storage("timescaledb", _migrated(timescaledb_url))


@pytest.fixture
def plain(plain_postgres_url: str) -> Storage:
    return Storage("postgresql", plain_postgres_url)
