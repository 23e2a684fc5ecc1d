"""TimescaleDB specifics, read back from the timescaledb_information views."""

import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from core.storage import reconcile_readings_retention, timescaledb_installed
from tests.storage.conftest import Storage


def test_readings_and_events_are_hypertables_with_daily_chunks(timescale: Storage) -> None:
    with timescale.connect() as conn:
        assert timescaledb_installed(conn)
        rows = conn.execute(
            "SELECT hypertable_name, column_name, time_interval"
            " FROM timescaledb_information.dimensions ORDER BY hypertable_name"
        ).fetchall()
    user_tables = [r for r in rows if not str(r[0]).startswith("_")]
    assert user_tables == [
        ("events", "ts", timedelta(days=1)),
        ("readings", "ts", timedelta(days=1)),
    ]


def test_compression_is_segmented_by_device(timescale: Storage) -> None:
    with timescale.connect() as conn:
        enabled = conn.execute(
            "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
            " WHERE hypertable_name IN ('readings', 'events') ORDER BY 1"
        ).fetchall()
        segmentby = conn.execute(
            "SELECT hypertable_name, attname FROM timescaledb_information.compression_settings"
            " WHERE segmentby_column_index IS NOT NULL ORDER BY 1"
        ).fetchall()
    assert enabled == [("events", True), ("readings", True)]
    assert ("events", "device_id") in segmentby
    assert ("readings", "device_id") in segmentby


def test_compression_and_retention_jobs_exist(timescale: Storage) -> None:
    with timescale.connect() as conn:
        jobs = conn.execute(
            "SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs"
            " WHERE hypertable_name IN ('readings', 'events')"
        ).fetchall()
    by_kind: dict[tuple[str, str], dict[str, object]] = {}
    for proc, table, config in jobs:
        assert isinstance(config, dict), f"{proc} on {table}: config {config!r}"
        by_kind[(str(proc), str(table))] = config
    assert by_kind[("policy_compression", "readings")]["compress_after"] == "7 days"
    assert by_kind[("policy_compression", "events")]["compress_after"] == "7 days"
    assert by_kind[("policy_retention", "readings")]["drop_after"] == "400 days"
    assert ("policy_retention", "events") not in by_kind  # events are kept forever


def test_retention_follows_the_setting(timescale: Storage) -> None:
    with timescale.connect() as conn:
        try:
            assert reconcile_readings_retention(conn, 30) is True
            assert reconcile_readings_retention(conn, 30) is False
            row = conn.execute(
                "SELECT config->>'drop_after' FROM timescaledb_information.jobs"
                " WHERE proc_name = 'policy_retention' AND hypertable_name = 'readings'"
            ).fetchone()
            assert row == ("30 days",)
        finally:
            reconcile_readings_retention(conn, 400)


def test_hourly_continuous_aggregate_refreshes_and_answers(timescale: Storage) -> None:
    hour = datetime(2026, 11, 20, 8, tzinfo=UTC)
    with timescale.connect() as conn:
        views = conn.execute(
            "SELECT view_name FROM timescaledb_information.continuous_aggregates"
        ).fetchall()
        assert ("readings_hourly",) in views
        device_id = f"pir-{uuid.uuid4().hex[:8]}"
        conn.execute(
            "INSERT INTO devices (device_id, device_type) VALUES (%s, 'pir')", (device_id,)
        )
        for minute, motion, battery in ((1, True, 90), (20, False, 88), (40, True, 87)):
            conn.execute(
                "INSERT INTO readings (device_id, ts, msg_id, motion, battery)"
                " VALUES (%s, %s, %s, %s, %s)",
                (device_id, hour + timedelta(minutes=minute), f"m{minute}", motion, battery),
            )
        conn.execute(
            "CALL refresh_continuous_aggregate('readings_hourly', %s, %s)",
            (hour - timedelta(hours=1), hour + timedelta(hours=2)),
        )
        row = conn.execute(
            "SELECT bucket, messages, motion_count, battery_min FROM readings_hourly"
            " WHERE device_id = %s",
            (device_id,),
        ).fetchone()
    assert row == (hour, 3, 2, 87)


def _job_id(conn: psycopg.Connection[tuple[object, ...]], proc: str, table: str) -> int:
    row = conn.execute(
        "SELECT job_id FROM timescaledb_information.jobs"
        " WHERE proc_name = %s AND hypertable_name = %s",
        (proc, table),
    ).fetchone()
    assert row is not None, (proc, table)
    return int(str(row[0]))


def test_compression_and_retention_jobs_run_by_hand(timescale: Storage) -> None:
    """The WebAssembly server runs no background workers, so the test runs the policies'
    jobs itself with CALL run_job: chunks past 7 days get compressed, readings chunks past
    the retention (400 days here) are dropped, and events of the same age are kept."""
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    ages = {"ancient": 500, "old": 20, "recent": 0}
    device_id = f"smoke-{uuid.uuid4().hex[:8]}"
    with timescale.connect() as conn:
        conn.execute(
            "INSERT INTO devices (device_id, device_type) VALUES (%s, 'smoke')", (device_id,)
        )
        for name, days in ages.items():
            ts = now - timedelta(days=days)
            conn.execute(
                "INSERT INTO readings (device_id, ts, msg_id, smoke) VALUES (%s, %s, %s, false)",
                (device_id, ts, name),
            )
            conn.execute(
                "INSERT INTO events (device_id, ts, msg_id, event) VALUES (%s, %s, %s, 'alarm')",
                (device_id, ts, name),
            )

        for table in ("readings", "events"):
            conn.execute("CALL run_job(%s)", (_job_id(conn, "policy_compression", table),))
        conn.execute("CALL run_job(%s)", (_job_id(conn, "policy_retention", "readings"),))

        chunks = conn.execute(
            "SELECT hypertable_name, range_end, is_compressed"
            " FROM timescaledb_information.chunks WHERE hypertable_name IN ('readings', 'events')"
        ).fetchall()
        stats = {
            table: conn.execute(
                "SELECT count(*) FROM chunk_compression_stats(%s)"
                " WHERE compression_status = 'Compressed'",
                (table,),
            ).fetchone()
            for table in ("readings", "events")
        }
        readings = conn.execute(
            "SELECT msg_id FROM readings WHERE device_id = %s ORDER BY ts", (device_id,)
        ).fetchall()
        events = conn.execute(
            "SELECT msg_id FROM events WHERE device_id = %s ORDER BY ts", (device_id,)
        ).fetchall()

    def chunk_of(table: str, days: int) -> list[bool]:
        ts = now - timedelta(days=days)
        return [
            bool(c)
            for t, end, c in chunks
            if t == table and isinstance(end, datetime) and end - timedelta(days=1) <= ts < end
        ]

    # compressed: every chunk older than 7 days, in both tables; the current one is not
    assert chunk_of("readings", 20) == [True]
    assert chunk_of("events", 20) == [True]
    assert chunk_of("events", 500) == [True]
    assert chunk_of("readings", 0) == [False]
    assert all(row is not None and int(str(row[0])) >= 1 for row in stats.values()), stats
    # retention: the 500-day readings chunk is gone; events of that age stay
    assert chunk_of("readings", 500) == []
    assert readings == [("old",), ("recent",)]  # compressed rows still read back
    assert events == [("ancient",), ("old",), ("recent",)]
