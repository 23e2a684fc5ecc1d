"""Applies the ordered SQL files of this folder, once each, in order.

Guarantees, in the order they are checked:
- a PostgreSQL advisory lock serialises concurrent runners, so two `nuanxin migrate`
  processes started together apply every file exactly once;
- a file whose checksum differs from the one recorded when it was applied stops the run
  before anything is applied (MigrationEdited names the file);
- each file runs in its own transaction together with its `schema_migrations` row.

A file may declare `-- requires: timescaledb` in its header. It is applied when the
server offers TimescaleDB (or NUANXIN_TIMESCALEDB=on) and recorded as skipped otherwise.
"""

import hashlib
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from core.errors import MigrationEdited, MigrationError, UnknownMigration
from core.settings import TimescaleMode

FILE_PATTERN = re.compile(r"^(?P<version>\d{4})_[a-z0-9_]+\.sql$")
REQUIRES_PATTERN = re.compile(r"^--\s*requires:\s*(?P<features>[a-z0-9_, ]+)$", re.MULTILINE)
KNOWN_FEATURES = frozenset({"timescaledb"})
LOCK_KEY = int.from_bytes(b"nuanxin", "big")  # any fixed bigint shared by all runners

BOOTSTRAP_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('applied', 'skipped')),
    applied_at  timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str
    requires: frozenset[str]


@dataclass
class MigrationReport:
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    timescaledb: bool = False


def discover(directory: Path) -> list[Migration]:
    """Read every `NNNN_name.sql` file of `directory`, ordered by version."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILE_PATTERN.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files must be named NNNN_name.sql")
        version = int(match["version"])
        if version in migrations:
            raise MigrationError(
                f"{path.name}: version {version} is also used by {migrations[version].name}"
            )
        raw = path.read_bytes()
        sql = raw.decode("utf-8")
        migrations[version] = Migration(
            version=version,
            name=path.name,
            sql=sql,
            checksum=hashlib.sha256(raw).hexdigest(),
            requires=_requirements(path.name, sql),
        )
    return [migrations[v] for v in sorted(migrations)]


def _requirements(name: str, sql: str) -> frozenset[str]:
    features = frozenset(
        feature.strip()
        for match in REQUIRES_PATTERN.finditer(sql)
        for feature in match["features"].split(",")
        if feature.strip()
    )
    if unknown := features - KNOWN_FEATURES:
        raise MigrationError(f"{name}: unknown requirement(s) {', '.join(sorted(unknown))}")
    return features


def migrate(
    conn: psycopg.Connection[Any],
    migrations: list[Migration],
    *,
    timescaledb: TimescaleMode = TimescaleMode.AUTO,
    parameters: Mapping[str, str] | None = None,
) -> MigrationReport:
    """Bring the schema up to date. `conn` must be in autocommit mode.

    `parameters` become transaction-local settings (`nuanxin.<name>`) that migration SQL
    reads with current_setting(), e.g. the readings retention period.
    """
    if not conn.autocommit:
        raise MigrationError("the migration connection must be in autocommit mode")
    with _advisory_lock(conn):
        conn.execute(BOOTSTRAP_SQL)
        applied = _applied_checksums(conn)
        _verify(applied, migrations)
        report = MigrationReport(timescaledb=_use_timescaledb(conn, timescaledb))
        features = {"timescaledb"} if report.timescaledb else set()
        for migration in migrations:
            if migration.version in applied:
                continue
            if migration.requires <= features:
                _apply(conn, migration, parameters or {})
                report.applied.append(migration.name)
            else:
                _record(conn, migration, outcome="skipped", duration_ms=0)
                report.skipped.append(migration.name)
        return report


@contextmanager
def _advisory_lock(conn: psycopg.Connection[Any]) -> Iterator[None]:
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def _applied_checksums(conn: psycopg.Connection[Any]) -> dict[int, tuple[str, str]]:
    rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    return {version: (name, checksum) for version, name, checksum in rows}


def _verify(applied: dict[int, tuple[str, str]], migrations: list[Migration]) -> None:
    by_version = {m.version: m for m in migrations}
    for version, (name, checksum) in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise UnknownMigration(
                f"the database has migration {name} which this version of nuanxin does not "
                "ship; run a release that includes it"
            )
        if migration.checksum != checksum:
            raise MigrationEdited(
                f"{migration.name} was edited after it was applied (checksum differs); "
                "restore the original file and put the change in a new migration"
            )


def _use_timescaledb(conn: psycopg.Connection[Any], mode: TimescaleMode) -> bool:
    if mode is TimescaleMode.OFF:
        return False
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if row is None and mode is TimescaleMode.ON:
        raise MigrationError(
            "NUANXIN_TIMESCALEDB=on but this PostgreSQL server does not offer the "
            "timescaledb extension"
        )
    return row is not None


def _apply(
    conn: psycopg.Connection[Any], migration: Migration, parameters: Mapping[str, str]
) -> None:
    started = time.monotonic()
    try:
        with conn.transaction():
            for name, value in parameters.items():
                conn.execute("SELECT set_config(%s, %s, true)", (f"nuanxin.{name}", value))
            conn.execute(migration.sql.encode())
            _record(
                conn,
                migration,
                outcome="applied",
                duration_ms=int((time.monotonic() - started) * 1000),
            )
    except psycopg.Error as exc:
        raise MigrationError(f"{migration.name} failed and was rolled back: {exc}") from exc


def _record(
    conn: psycopg.Connection[Any], migration: Migration, *, outcome: str, duration_ms: int
) -> None:
    conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum, outcome, duration_ms)"
        " VALUES (%s, %s, %s, %s, %s)",
        (migration.version, migration.name, migration.checksum, outcome, duration_ms),
    )
