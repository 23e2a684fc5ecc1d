"""The batch writer against a real PostgreSQL: stored once, signalled once, state in
device order, quarantine kept byte for byte."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from core.types import EventKind
from ingest import writer
from ingest.messages import Event, QuarantineReason, Reading, Rejected, Status
from tests.support.databases import migrated_database

T0 = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def db_url() -> Iterator[str]:
    with migrated_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            for device_id, kind in (
                ("smoke-1", "smoke"),
                ("gas-1", "gas"),
                ("pir-1", "pir"),
                ("btn-1", "emergency_button"),
            ):
                conn.execute(
                    "INSERT INTO devices (device_id, device_type) VALUES (%s, %s)",
                    (device_id, kind),
                )
        yield url


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        writer.prepare(conn)
        yield conn


def reading(device: str, minute: int, msg: str, **values: Any) -> Reading:
    ts = T0 + timedelta(minutes=minute)
    return Reading(device, ts, msg, ts + timedelta(seconds=1), **values)


def signals(conn: psycopg.Connection[Any], device: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT signal, raised, value FROM alert_outbox WHERE device_id = %s ORDER BY id",
        (device,),
    ).fetchall()


def test_batch_is_stored_once_even_when_redelivered(conn: psycopg.Connection[Any]) -> None:
    batch = [reading("pir-1", i, f"pir-{i}", motion=i % 2 == 0) for i in range(50)]
    first = writer.write_batch(conn, batch)
    again = writer.write_batch(conn, [*batch[:10], *batch[:10]])
    assert (first.readings, first.duplicates) == (50, 0)
    assert (again.readings, again.duplicates) == (0, 20)
    assert conn.execute("SELECT count(*) FROM readings WHERE device_id = 'pir-1'").fetchone() == (
        50,
    )


def test_flags_signal_on_change_not_on_repeat(conn: psycopg.Connection[Any]) -> None:
    flapping = [
        reading("smoke-1", 0, "s0", smoke=False),
        reading("smoke-1", 1, "s1", smoke=True),
        reading("smoke-1", 2, "s2", smoke=True),
        reading("smoke-1", 3, "s3", smoke=True),
        reading("smoke-1", 4, "s4", smoke=False),
    ]
    writer.write_batch(conn, flapping[:3])
    writer.write_batch(conn, flapping[3:])
    assert signals(conn, "smoke-1") == [("smoke", True, None), ("smoke", False, None)]


def test_gas_lel_signals_each_reading_past_the_floor(conn: psycopg.Connection[Any]) -> None:
    writer.write_batch(
        conn,
        [
            reading("gas-1", 0, "g0", gas=False, gas_lel=0.0),
            reading("gas-1", 1, "g1", gas=False, gas_lel=6.0),
            reading("gas-1", 2, "g2", gas=False, gas_lel=12.5),
            reading("gas-1", 3, "g3", gas=False, gas_lel=0.5),
        ],
    )
    assert signals(conn, "gas-1") == [
        ("gas_lel", True, 6.0),
        ("gas_lel", True, 12.5),
        ("gas_lel", False, 0.5),
    ]


def test_late_reading_is_stored_but_does_not_rewind_state(conn: psycopg.Connection[Any]) -> None:
    writer.write_batch(conn, [reading("btn-1", 10, "b10", battery=80)])
    writer.write_batch(conn, [reading("btn-1", 5, "b5", battery=95)])  # arrives late
    row = conn.execute(
        "SELECT battery, last_reading_ts FROM device_state WHERE device_id = 'btn-1'"
    ).fetchone()
    assert row == (80, T0 + timedelta(minutes=10))
    assert conn.execute("SELECT count(*) FROM readings WHERE device_id = 'btn-1'").fetchone() == (
        2,
    )


def test_events_signal_and_update_last_seen(conn: psycopg.Connection[Any]) -> None:
    press = Event(
        "btn-1",
        T0 + timedelta(hours=1),
        "e1",
        T0 + timedelta(hours=1, seconds=1),
        EventKind.BUTTON_PRESS,
    )
    writer.write_batch(conn, [press])
    writer.write_batch(conn, [press])  # redelivered: no second signal
    assert signals(conn, "btn-1")[-1:] == [("button_press", True, None)]
    assert [s for s in signals(conn, "btn-1") if s[0] == "button_press"] == [
        ("button_press", True, None)
    ]
    row = conn.execute("SELECT last_seen_at FROM device_state WHERE device_id = 'btn-1'").fetchone()
    assert row == (T0 + timedelta(hours=1, seconds=1),)


def test_status_and_will(conn: psycopg.Connection[Any]) -> None:
    writer.write_batch(conn, [Status("pir-1", True, T0, ts=T0, firmware="1.4.2")])
    writer.write_batch(conn, [Status("pir-1", False, T0 + timedelta(minutes=1))])
    row = conn.execute(
        "SELECT online, firmware FROM device_state WHERE device_id = 'pir-1'"
    ).fetchone()
    assert row == (False, "1.4.2")


def test_quarantine_keeps_the_bytes(conn: psycopg.Connection[Any]) -> None:
    raw = b'{"msg_id": 1, \xff'
    writer.write_batch(
        conn,
        [
            Rejected(
                "nuanxin/v1/pir-1/telemetry",
                raw,
                QuarantineReason.BAD_JSON,
                "not UTF-8",
                T0,
                "pir-1",
            )
        ],
    )
    row = conn.execute(
        "SELECT payload, reason FROM quarantine WHERE topic = 'nuanxin/v1/pir-1/telemetry'"
    ).fetchone()
    assert row == (raw, "bad_json")


def test_last_values_merge_across_batches(conn: psycopg.Connection[Any]) -> None:
    writer.write_batch(conn, [reading("pir-1", 100, "v1", battery=80, rssi=-70)])
    writer.write_batch(conn, [reading("pir-1", 101, "v2", motion=True)])
    writer.write_batch(conn, [reading("pir-1", 99, "v0", battery=99)])  # late: ignored
    row = conn.execute("SELECT last_values FROM device_state WHERE device_id = 'pir-1'").fetchone()
    assert row is not None
    assert {k: row[0][k] for k in ("battery", "rssi", "motion")} == {
        "battery": 80,
        "rssi": -70,
        "motion": True,
    }
