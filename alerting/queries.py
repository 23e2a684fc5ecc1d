"""Named SQL for reading alerts as people see them: the list with its filters, a set of
alerts by id, one alert's timeline and notifications.

Who may see which alert is not decided here: every function takes the caller's scope, an
SQL condition on `a` (alerts) and `c` (communities) with its parameters — the API passes
`device_registry.access.alert_scope(actor)`.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import psycopg

from core.db import Row, Scope, fetch_all, fetch_one
from core.vocabulary import AlertStatus, Severity

ALERT_SELECT: Final = """
SELECT a.id, a.elder_id, e.name AS elder_name, h.address, e.community_id, c.district_id,
       di.name AS district_name, a.device_id, dv.device_type, r.name AS room,
       a.rule, a.severity, a.status, a.test, a.trigger_count,
       n.notification_count, n.delivered_count, n.failed_count, a.level,
       a.opened_at, a.triggered_at, a.last_triggered_at, a.condition_cleared_at,
       a.acknowledged_at, a.acknowledged_by, a.on_site_at, a.on_site_by,
       a.resolved_at, a.resolved_by, a.outcome, a.note, a.next_due_at
FROM alerts a
LEFT JOIN elders e ON e.id = a.elder_id
LEFT JOIN homes h ON h.elder_id = e.id
LEFT JOIN communities c ON c.id = e.community_id
LEFT JOIN districts di ON di.id = c.district_id
LEFT JOIN devices dv ON dv.device_id = a.device_id
LEFT JOIN rooms r ON r.id = dv.room_id
CROSS JOIN LATERAL (
    SELECT count(*) AS notification_count,
           count(*) FILTER (WHERE status = 'delivered') AS delivered_count,
           count(*) FILTER (WHERE status = 'failed') AS failed_count
    FROM notifications WHERE alert_id = a.id
) n
"""

# Filter name → condition on the alert; the value is its one parameter.
FILTERS: Final = {
    "severity": "a.severity = %s",
    "district_id": "c.district_id = %s",
    "elder_id": "a.elder_id = %s",
    "rule": "a.rule = %s",
    "since": "a.opened_at >= %s",
    "until": "a.opened_at < %s",
    "test": "a.test = %s",
}
UNRESOLVED: Final = "a.status <> 'resolved'"
# Whoever looks at what is still open needs the most urgent first.
SEVERITY_ORDER: Final = [s.value for s in Severity]
NEWEST_FIRST: Final = "a.opened_at DESC, a.id DESC"
MOST_URGENT_FIRST: Final = f"array_position(%s::text[], a.severity), {NEWEST_FIRST}"


def find_alerts(
    conn: psycopg.Connection[Any],
    scope: Scope,
    *,
    filters: Mapping[str, object],
    status: AlertStatus | None = None,
    unresolved: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[Row]:
    """Alerts in `scope` matching `filters` (FILTERS' names; None means any), newest
    first — or, for `unresolved`, the most severe first."""
    condition, scope_params = scope
    conditions, params = [condition], list(scope_params)
    for name, value in filters.items():
        if value is not None:
            conditions.append(FILTERS[name])
            params.append(value)
    if status is not None:
        conditions.append("a.status = %s")
        params.append(str(status))
    if unresolved:
        conditions.append(UNRESOLVED)
        order, order_params = MOST_URGENT_FIRST, [SEVERITY_ORDER]
    else:
        order, order_params = NEWEST_FIRST, []
    return fetch_all(
        conn,
        f"{ALERT_SELECT} WHERE {' AND '.join(conditions)} ORDER BY {order} LIMIT %s OFFSET %s",
        [*params, *order_params, limit, offset],
    )


def alerts_by_id(conn: psycopg.Connection[Any], scope: Scope, alert_ids: list[int]) -> list[Row]:
    """Those of `alert_ids` in `scope`."""
    condition, params = scope
    return fetch_all(
        conn, f"{ALERT_SELECT} WHERE a.id = ANY(%s) AND {condition}", [alert_ids, *params]
    )


def timeline(conn: psycopg.Connection[Any], alert_id: int) -> list[Row]:
    return fetch_all(
        conn,
        "SELECT at, kind, actor, detail FROM alert_timeline WHERE alert_id = %s ORDER BY id",
        (alert_id,),
    )


def notifications(conn: psycopg.Connection[Any], alert_id: int) -> list[Row]:
    """Every notification of the alert, with the name of the contact it went to."""
    return fetch_all(
        conn,
        "SELECT n.*, c.name AS contact_name FROM notifications n"
        " LEFT JOIN contacts c ON c.id = n.contact_id WHERE n.alert_id = %s ORDER BY n.id",
        (alert_id,),
    )


# --- the operator overview: real alerts only, scope on `e` (elders) and `c` ------------------

HOMES: Final = """
JOIN elders e ON e.id = a.elder_id
JOIN communities c ON c.id = e.community_id
JOIN districts di ON di.id = c.district_id
"""

OPEN_ALERTS_SQL: Final = f"""
SELECT c.district_id, di.name AS district_name, a.severity, count(*) AS count
FROM alerts a {HOMES}
WHERE a.status <> 'resolved' AND NOT a.test AND {{scope}}
GROUP BY c.district_id, di.name, a.severity
ORDER BY di.name, array_position(ARRAY['critical', 'warning', 'maintenance'], a.severity)
"""

CRITICAL_WEEK_SQL: Final = f"""
SELECT count(*) AS alerts,
       count(a.acknowledged_at) AS acknowledged,
       count(a.on_site_at) AS on_site,
       percentile_cont(0.5) WITHIN GROUP
           (ORDER BY extract(epoch FROM a.acknowledged_at - a.opened_at)) AS median_ack_s,
       percentile_cont(0.5) WITHIN GROUP
           (ORDER BY extract(epoch FROM a.on_site_at - a.opened_at)) AS median_on_site_s
FROM alerts a {HOMES}
WHERE a.severity = 'critical' AND NOT a.test AND a.opened_at >= %s AND {{scope}}
"""


def open_alert_counts(conn: psycopg.Connection[Any], scope: Scope) -> list[Row]:
    """Unresolved real alerts by district and severity."""
    condition, params = scope
    return fetch_all(conn, OPEN_ALERTS_SQL.format(scope=condition), params)


def critical_response(conn: psycopg.Connection[Any], scope: Scope, since: datetime) -> Row:
    """Critical alerts opened since `since`: how many, how many answered, median seconds
    to acknowledge and to arrive on site."""
    condition, params = scope
    row = fetch_one(conn, CRITICAL_WEEK_SQL.format(scope=condition), [since, *params])
    assert row is not None  # an aggregate always answers one row
    return row
