"""The core schema behaves the same on plain PostgreSQL and on TimescaleDB."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from core.storage import prune_readings, reconcile_readings_retention
from core.types import DeviceLifecycle, DeviceType, EventKind
from core.vocabulary import (
    AUTO_CLEARED,
    AlertStatus,
    Channel,
    NotificationStatus,
    Outcome,
    Severity,
)
from tests.storage.conftest import Storage


def new_device(conn: psycopg.Connection[tuple[object, ...]], device_type: str = "pir") -> str:
    device_id = f"dev-{uuid.uuid4().hex[:10]}"
    conn.execute(
        "INSERT INTO devices (device_id, device_type) VALUES (%s, %s)", (device_id, device_type)
    )
    return device_id


def check_values(conn: psycopg.Connection[tuple[object, ...]], table: str, column: str) -> set[str]:
    row = conn.execute(
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c"
        " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
        " WHERE c.conrelid = %s::regclass AND c.contype = 'c' AND a.attname = %s",
        (table, column),
    ).fetchone()
    assert row is not None
    return set(re.findall(r"'([a-z_]+)'::text", str(row[0])))


def test_check_constraints_match_domain_types(storage: Storage) -> None:
    with storage.connect() as conn:
        assert check_values(conn, "devices", "device_type") == set(DeviceType)
        assert check_values(conn, "devices", "state") == set(DeviceLifecycle)
        assert check_values(conn, "events", "event") == set(EventKind)
        assert check_values(conn, "alerts", "severity") == set(Severity)
        assert check_values(conn, "escalation_policies", "severity") == set(Severity)
        assert check_values(conn, "alerts", "status") == set(AlertStatus)
        assert check_values(conn, "alerts", "outcome") == {*Outcome, AUTO_CLEARED}
        assert check_values(conn, "notifications", "channel") == set(Channel)
        assert check_values(conn, "notifications", "status") == set(NotificationStatus)


def test_redelivered_reading_is_stored_once(storage: Storage) -> None:
    insert = (
        "INSERT INTO readings (device_id, ts, msg_id, motion) VALUES (%s, %s, %s, true)"
        " ON CONFLICT (device_id, ts, msg_id) DO NOTHING"
    )
    ts = datetime(2026, 11, 28, 0, 15, 2, tzinfo=UTC)
    with storage.connect() as conn:
        device_id = new_device(conn)
        first = conn.execute(insert, (device_id, ts, "c0a8-17")).rowcount
        again = conn.execute(insert, (device_id, ts, "c0a8-17")).rowcount
        other = conn.execute(insert, (device_id, ts, "c0a8-18")).rowcount
        count = conn.execute(
            "SELECT count(*) FROM readings WHERE device_id = %s", (device_id,)
        ).fetchone()
    assert (first, again, other) == (1, 0, 1)
    assert count == (2,)


def test_redelivered_event_is_stored_once(storage: Storage) -> None:
    insert = (
        "INSERT INTO events (device_id, ts, msg_id, event) VALUES (%s, %s, %s, 'button_press')"
        " ON CONFLICT (device_id, ts, msg_id) DO NOTHING"
    )
    ts = datetime(2026, 11, 28, 0, 15, 2, tzinfo=UTC)
    with storage.connect() as conn:
        device_id = new_device(conn, "emergency_button")
        assert [conn.execute(insert, (device_id, ts, "e1")).rowcount for _ in range(3)] == [1, 0, 0]


def test_reading_for_unknown_device_is_rejected(storage: Storage) -> None:
    with storage.connect() as conn:
        try:
            conn.execute(
                "INSERT INTO readings (device_id, ts, msg_id) VALUES ('nobody', now(), 'x')"
            )
        except psycopg.errors.ForeignKeyViolation:
            return
    raise AssertionError("a reading for an unregistered device was accepted")


def index_definitions(conn: psycopg.Connection[tuple[object, ...]], table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (table,)
    ).fetchall()
    return {str(name): str(definition) for name, definition in rows}


def test_time_series_indexes(storage: Storage) -> None:
    with storage.connect() as conn:
        for table in ("readings", "events"):
            indexes = index_definitions(conn, table)
            assert "(device_id, ts DESC, msg_id)" in indexes[f"{table}_device_ts_msg"]
            assert "UNIQUE" in indexes[f"{table}_device_ts_msg"]
            # Plain tables rely on BRIN for time ranges; hypertables on chunk exclusion.
            assert (f"{table}_ts_brin" in indexes) is not storage.timescale


def test_prune_readings_deletes_only_expired_rows(plain: Storage) -> None:
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with plain.connect() as conn:
        device_id = new_device(conn)
        for age_days, msg_id in ((500, "old"), (401, "older-than-400"), (399, "kept"), (1, "new")):
            conn.execute(
                "INSERT INTO readings (device_id, ts, msg_id) VALUES (%s, %s, %s)",
                (device_id, now - timedelta(days=age_days), msg_id),
            )
        prune_readings(conn, 400, now)
        rows = conn.execute(
            "SELECT msg_id FROM readings WHERE device_id = %s ORDER BY ts", (device_id,)
        ).fetchall()
        assert [r[0] for r in rows] == ["kept", "new"]
        assert reconcile_readings_retention(conn, 30) is False  # nothing to reconcile here
