"""Named SQL for the alert engine: reading context, and writing alerts, their timeline
and notifications. Every function takes the caller's connection, so a whole decision is
one transaction."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from alerting.rules import RuleSettings

# Re-exported: the engine's modules read rows through store, as they always have.
from core import notify_channels
from core.db import Row as Row
from core.db import fetch_all as fetch_all
from core.db import fetch_one as fetch_one
from core.types import DeviceLifecycle, DeviceType
from core.vocabulary import Severity


@dataclass(frozen=True)
class DeviceContext:
    device_id: str
    device_type: DeviceType
    state: DeviceLifecycle
    elder_id: int | None
    district_id: int | None
    settings: RuleSettings


DEVICE_CONTEXT_SQL = """
SELECT d.device_id, d.device_type, d.state, h.elder_id, c.district_id,
       COALESCE(di.rule_settings, '{}') AS district_settings,
       COALESCE(e.rule_settings, '{}') AS elder_settings
FROM devices d
LEFT JOIN homes h ON h.id = d.home_id
LEFT JOIN elders e ON e.id = h.elder_id
LEFT JOIN communities c ON c.id = e.community_id
LEFT JOIN districts di ON di.id = c.district_id
WHERE d.device_id = %s
"""


def device_context(conn: psycopg.Connection[Any], device_id: str) -> DeviceContext | None:
    row = fetch_one(conn, DEVICE_CONTEXT_SQL, (device_id,))
    if row is None:
        return None
    return DeviceContext(
        device_id=row["device_id"],
        device_type=DeviceType(row["device_type"]),
        state=DeviceLifecycle(row["state"]),
        elder_id=row["elder_id"],
        district_id=row["district_id"],
        settings=RuleSettings.merged(row["district_settings"], row["elder_settings"]),
    )


def elder_settings(conn: psycopg.Connection[Any], elder_id: int) -> RuleSettings:
    row = fetch_one(
        conn,
        "SELECT di.rule_settings AS d, e.rule_settings AS e FROM elders e"
        " JOIN communities c ON c.id = e.community_id JOIN districts di ON di.id = c.district_id"
        " WHERE e.id = %s",
        (elder_id,),
    )
    return RuleSettings() if row is None else RuleSettings.merged(row["d"], row["e"])


def claim_outbox(conn: psycopg.Connection[Any], limit: int, now: datetime) -> list[Row]:
    """Unprocessed rows in order, but not those waiting out a retry after a failure."""
    return fetch_all(
        conn,
        "SELECT id, device_id, ts, msg_id, received_at, signal, raised, value, detail,"
        " attempts FROM alert_outbox WHERE processed_at IS NULL"
        " AND (retry_at IS NULL OR retry_at <= %s) ORDER BY id"
        " LIMIT %s FOR UPDATE SKIP LOCKED",
        (now, limit),
    )


def retry_outbox_row(
    conn: psycopg.Connection[Any], row_id: int, attempts: int, error: str, retry_at: datetime
) -> None:
    conn.execute(
        "UPDATE alert_outbox SET attempts = %s, error = %s, retry_at = %s WHERE id = %s",
        (attempts, error, retry_at, row_id),
    )


def mark_processed(conn: psycopg.Connection[Any], ids: list[int], now: datetime) -> None:
    conn.execute("UPDATE alert_outbox SET processed_at = %s WHERE id = ANY(%s)", (now, ids))


def open_alert_for(
    conn: psycopg.Connection[Any], elder_id: int | None, rule: str, device_id: str | None
) -> Row | None:
    return fetch_one(
        conn,
        "SELECT * FROM alerts WHERE elder_id IS NOT DISTINCT FROM %s AND rule = %s"
        " AND device_id IS NOT DISTINCT FROM %s AND status <> 'resolved' FOR UPDATE",
        (elder_id, rule, device_id),
    )


def lock_alert(conn: psycopg.Connection[Any], alert_id: int) -> Row | None:
    return fetch_one(conn, "SELECT * FROM alerts WHERE id = %s FOR UPDATE", (alert_id,))


def insert_alert(
    conn: psycopg.Connection[Any],
    *,
    elder_id: int | None,
    device_id: str | None,
    rule: str,
    severity: Severity,
    test: bool,
    now: datetime,
    triggered_at: datetime,
    policy: dict[str, Any] | None,
    source_outbox_id: int | None,
) -> Row | None:
    """A new open alert, or None when one is already open (a concurrent opener won)."""
    return fetch_one(
        conn,
        "INSERT INTO alerts (elder_id, device_id, rule, severity, test, opened_at,"
        " triggered_at, last_triggered_at, policy, source_outbox_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (elder_id, rule, device_id) WHERE status <> 'resolved' DO NOTHING"
        " RETURNING *",
        (
            elder_id,
            device_id,
            rule,
            severity.value,
            test,
            now,
            triggered_at,
            triggered_at,
            None if policy is None else Jsonb(policy),
            source_outbox_id,
        ),
    )


def update_alert(conn: psycopg.Connection[Any], alert_id: int, **changes: Any) -> None:
    columns = ", ".join(f"{name} = %s" for name in changes)
    conn.execute(f"UPDATE alerts SET {columns} WHERE id = %s", [*changes.values(), alert_id])


def timeline(
    conn: psycopg.Connection[Any],
    alert_id: int,
    at: datetime,
    kind: str,
    actor: str = "system",
    **detail: Any,
) -> None:
    conn.execute(
        "INSERT INTO alert_timeline (alert_id, at, kind, actor, detail)"
        " VALUES (%s, %s, %s, %s, %s)",
        (alert_id, at, kind, actor, Jsonb(detail)),
    )
    # Every change of an alert has a timeline entry; live views hear of it after commit.
    conn.execute("SELECT pg_notify(%s, %s)", (notify_channels.ALERTS, f"{alert_id}:{kind}"))


def cancel_pending(conn: psycopg.Connection[Any], alert_id: int, now: datetime) -> int:
    cur = conn.execute(
        "UPDATE notifications SET status = 'cancelled', updated_at = %s"
        " WHERE alert_id = %s AND status = 'pending'",
        (now, alert_id),
    )
    return cur.rowcount


def elder_facts(conn: psycopg.Connection[Any], elder_id: int) -> Row | None:
    """Name, address and where the elder lives: what every message must name."""
    return fetch_one(
        conn,
        "SELECT e.id, e.name, e.presence, e.community_id, c.district_id, h.address"
        " FROM elders e JOIN communities c ON c.id = e.community_id"
        " JOIN homes h ON h.elder_id = e.id WHERE e.id = %s",
        (elder_id,),
    )
