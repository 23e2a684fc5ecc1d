"""TimescaleDB specifics, read back from the timescaledb_information views."""

import uuid
from datetime import UTC, datetime, timedelta

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
    by_kind = {(str(proc), str(table)): config for proc, table, config in jobs}
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
