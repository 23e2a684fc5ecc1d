"""Storage housekeeping that differs between plain PostgreSQL and TimescaleDB."""

from datetime import datetime, timedelta
from typing import Any

import psycopg

from core.isolation import each_item

PRUNE_BATCH_ROWS = 10_000
RETENTION_JOB = "retention"


def timescaledb_installed(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row is not None


def reconcile_readings_retention(conn: psycopg.Connection[Any], days: int) -> bool:
    """Make TimescaleDB's retention policy on readings match `days`; True if it changed.

    Does nothing on plain PostgreSQL, where `prune_readings` runs on a schedule instead.
    """
    if not timescaledb_installed(conn):
        return False
    row = conn.execute(
        "SELECT (config->>'drop_after')::interval FROM timescaledb_information.jobs"
        " WHERE proc_name = 'policy_retention' AND hypertable_name = 'readings'"
    ).fetchone()
    if row is not None and row[0] == timedelta(days=days):
        return False
    with conn.transaction():
        conn.execute("SELECT remove_retention_policy('readings', if_exists => true)")
        conn.execute("SELECT add_retention_policy('readings', make_interval(days => %s))", (days,))
    return True


def prune_readings(conn: psycopg.Connection[Any], days: int, now: datetime) -> int:
    """Delete readings older than `days`, device by device in small batches (plain
    PostgreSQL retention); returns how many rows went. `conn` is in autocommit mode.

    Batches keep each transaction short so ingest never waits long on the table, and a
    device whose rows cannot be deleted is logged, counted and left for the next run
    while the others are pruned (core.isolation).
    """
    cutoff = now - timedelta(days=days)
    devices = [row[0] for row in conn.execute("SELECT device_id FROM devices ORDER BY 1")]
    deleted = [0]

    def prune(device_id: str) -> None:
        deleted[0] += _prune_device(conn, device_id, cutoff)

    each_item(RETENTION_JOB, devices, prune, key=lambda device_id: f"device {device_id}")
    return deleted[0]


def _prune_device(conn: psycopg.Connection[Any], device_id: str, cutoff: datetime) -> int:
    total = 0
    while True:
        with conn.transaction():
            cur = conn.execute(
                "DELETE FROM readings WHERE ctid = ANY(ARRAY("
                " SELECT ctid FROM readings WHERE device_id = %s AND ts < %s LIMIT %s))",
                (device_id, cutoff, PRUNE_BATCH_ROWS),
            )
        total += cur.rowcount
        if cur.rowcount < PRUNE_BATCH_ROWS:
            return total
