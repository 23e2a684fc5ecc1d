"""Stores one batch in one transaction: readings and events (COPY, then idempotent
INSERT … ON CONFLICT DO NOTHING), quarantine, device state, and the outbox rows the alert
engine reads. Only after the commit may the batch be acknowledged to the broker.

Signals come only from rows this batch really inserted, so a redelivered message is
neither stored twice nor signalled twice.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from core import notify_channels
from ingest.messages import Decoded, Event, Reading, Rejected, Status
from ingest.signals import Signal
from ingest.state import VALUE_FIELDS, DeviceState, advance

READING_COLUMNS = ("device_id", "ts", "msg_id", "received_at", *VALUE_FIELDS, "extra")
EVENT_COLUMNS = ("device_id", "ts", "msg_id", "received_at", "event", "detail")
M = TypeVar("M", Reading, Event)

STAGING_SQL = """
CREATE TEMP TABLE IF NOT EXISTS readings_in (LIKE readings INCLUDING DEFAULTS)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS events_in (LIKE events INCLUDING DEFAULTS)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS device_state_in (LIKE device_state INCLUDING DEFAULTS)
    ON COMMIT DELETE ROWS;
"""

STATE_COLUMNS = (
    "device_id",
    "online",
    "status_ts",
    "firmware",
    "last_seen_at",
    "last_reading_ts",
    "last_reading_msg",
    "last_motion_at",
    "battery",
    "battery_low",
    "rssi",
    "last_values",
    "raised_flags",
)

# The batch's newest values are merged into the stored ones here, in SQL, so ingest
# never has to read every device's last_values back (the costliest part of a batch).
UPSERT_STATE_SQL = f"""
INSERT INTO device_state ({", ".join(STATE_COLUMNS)}, updated_at)
SELECT {", ".join(STATE_COLUMNS)}, now() FROM device_state_in ORDER BY device_id
ON CONFLICT (device_id) DO UPDATE SET
{", ".join(f"{c} = EXCLUDED.{c}" for c in STATE_COLUMNS[1:] if c != "last_values")},
last_values = device_state.last_values || EXCLUDED.last_values, updated_at = now()
"""
LOCKED_COLUMNS = tuple(c for c in STATE_COLUMNS if c != "last_values")


@dataclass
class BatchResult:
    readings: int = 0  # newly stored
    events: int = 0
    duplicates: int = 0  # redelivered, already stored
    quarantined: int = 0
    signals: list[Signal] = field(default_factory=list)

    def merge(self, other: "BatchResult") -> None:
        self.readings += other.readings
        self.events += other.events
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.signals.extend(other.signals)


def prepare(conn: psycopg.Connection[Any]) -> None:
    """Create the connection's staging tables; call once per new connection."""
    conn.execute(STAGING_SQL)
    conn.commit()


def write_batch(conn: psycopg.Connection[Any], decoded: Sequence[Decoded]) -> BatchResult:
    readings = [d for d in decoded if isinstance(d, Reading)]
    events = [d for d in decoded if isinstance(d, Event)]
    statuses = [d for d in decoded if isinstance(d, Status)]
    rejected = [d for d in decoded if isinstance(d, Rejected)]
    result = BatchResult(quarantined=len(rejected))
    with conn.transaction():
        new_readings = _store_readings(conn, readings)
        new_events = _store_events(conn, events)
        result.readings, result.events = len(new_readings), len(new_events)
        result.duplicates = len(readings) + len(events) - result.readings - result.events
        _store_quarantine(conn, rejected)
        devices = {r.device_id for r in new_readings} | {e.device_id for e in new_events}
        devices |= {s.device_id for s in statuses}
        stored = _lock_states(conn, devices)
        changed, result.signals = advance(stored, new_readings, new_events, statuses)
        _store_states(conn, changed.values())
        _store_signals(conn, result.signals)
    return result


def _store_readings(conn: psycopg.Connection[Any], readings: list[Reading]) -> list[Reading]:
    rows = [
        (
            *(getattr(r, c) for c in READING_COLUMNS[:-1]),
            None if r.extra is None else Jsonb(r.extra),
        )
        for r in readings
    ]
    return _first_of_each(readings, _insert_new(conn, "readings", READING_COLUMNS, rows))


def _store_events(conn: psycopg.Connection[Any], events: list[Event]) -> list[Event]:
    rows = [
        (e.device_id, e.ts, e.msg_id, e.received_at, e.event.value, Jsonb(e.detail)) for e in events
    ]
    return _first_of_each(events, _insert_new(conn, "events", EVENT_COLUMNS, rows))


def _insert_new(
    conn: psycopg.Connection[Any], table: str, columns: tuple[str, ...], rows: list[Any]
) -> set[Any]:
    """COPY into the table's staging twin, then insert what is not stored yet; returns the
    (device_id, ts, msg_id) keys this call really inserted."""
    if not rows:
        return set()
    names = ", ".join(columns)
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table}_in ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {table}_in"
            " ON CONFLICT (device_id, ts, msg_id) DO NOTHING RETURNING device_id, ts, msg_id"
        )
        return set(cur.fetchall())


def _first_of_each(messages: list[M], inserted: set[Any]) -> list[M]:
    """The inserted messages, each once even if the batch held it twice (a redelivery)."""
    unique: dict[tuple[Any, ...], M] = {}
    for m in messages:
        unique.setdefault((m.device_id, m.ts, m.msg_id), m)
    return [m for key, m in unique.items() if key in inserted]


def _store_quarantine(conn: psycopg.Connection[Any], rejected: list[Rejected]) -> None:
    if not rejected:
        return
    columns = "received_at, topic, payload, reason, detail, device_id"
    with conn.cursor() as cur, cur.copy(f"COPY quarantine ({columns}) FROM STDIN") as copy:
        for q in rejected:
            copy.write_row(
                (q.received_at, q.topic, q.payload, q.reason.value, q.detail, q.device_id)
            )


def _lock_states(conn: psycopg.Connection[Any], devices: set[str]) -> dict[str, DeviceState]:
    if not devices:
        return {}
    # A fixed lock order keeps concurrent ingest processes from deadlocking.
    rows = conn.execute(
        f"SELECT {', '.join(LOCKED_COLUMNS)} FROM device_state WHERE device_id = ANY(%s)"
        " ORDER BY device_id FOR UPDATE",
        (sorted(devices),),
    ).fetchall()
    states = {}
    for row in rows:
        values = dict(zip(LOCKED_COLUMNS, row, strict=True))
        values["raised_flags"] = frozenset(values["raised_flags"])
        states[row[0]] = DeviceState(**values)
    return states


def _store_states(conn: psycopg.Connection[Any], states: Any) -> None:
    rows = [
        (
            *(getattr(s, c) for c in STATE_COLUMNS[:-2]),
            Jsonb(s.last_values),
            sorted(s.raised_flags),
        )
        for s in sorted(states, key=lambda s: s.device_id)
    ]
    if rows:
        with conn.cursor() as cur:
            with cur.copy(f"COPY device_state_in ({', '.join(STATE_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(UPSERT_STATE_SQL)


def _store_signals(conn: psycopg.Connection[Any], signals: list[Signal]) -> None:
    if not signals:
        return
    columns = "device_id, ts, msg_id, received_at, signal, raised, value, detail"
    with conn.cursor() as cur, cur.copy(f"COPY alert_outbox ({columns}) FROM STDIN") as copy:
        for s in signals:
            copy.write_row(
                (
                    s.device_id,
                    s.ts,
                    s.msg_id,
                    s.received_at,
                    s.signal,
                    s.raised,
                    s.value,
                    Jsonb(s.detail),
                )
            )
    conn.execute(f"NOTIFY {notify_channels.OUTBOX}")
