"""A database with the packaged schema: the one way tests get one.

`migrated_database()` makes a throwaway database on the local PostgreSQL and migrates it;
`migrated(url)` migrates a database the test already has (its own server, TimescaleDB).
Seeding is the caller's: each suite seeds what its story needs."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg

from core.settings import TimescaleMode
from migrations import PACKAGED_DIR
from migrations.runner import discover, migrate
from tests.support.servers import throwaway_database


def migrated(
    url: str,
    *,
    timescaledb: TimescaleMode = TimescaleMode.AUTO,
    parameters: Mapping[str, str] | None = None,
) -> str:
    """Apply every packaged migration to the database at `url`; return `url`."""
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, discover(PACKAGED_DIR), timescaledb=timescaledb, parameters=parameters)
    return url


@contextmanager
def migrated_database(prefix: str = "nuanxin_test") -> Iterator[str]:
    """A new database on the local PostgreSQL with the packaged schema, dropped afterwards."""
    with throwaway_database(prefix) as url:
        yield migrated(url)
