"""Named SQL for the monthly report to the civil-affairs bureau: the month's real alerts
(test alerts of devices being installed are left out) by district, rule and outcome,
their response times, and every delivery attempt.

Who may read which district is not decided here: every function takes the caller's
scope, an SQL condition on `e` (elders) and `c` (communities) with its parameters — the
API passes `Actor.elder_filter("e.id", "c.district_id")`.
"""

from datetime import datetime
from typing import Any, Final

import psycopg

from alerting.queries import SEVERITY_ORDER
from alerting.rules import RULES_BY_NAME
from alerting.templates.catalog import KINDS, AlertKind
from core.db import Row, Scope, fetch_all

# The month's real alerts in the caller's scope; {scope} is the condition.
MONTH_ALERTS: Final = """
FROM alerts a
JOIN elders e ON e.id = a.elder_id
JOIN communities c ON c.id = e.community_id
WHERE NOT a.test AND a.opened_at >= %s AND a.opened_at < %s AND {scope}
"""

COUNTS_SQL: Final = f"""
SELECT c.district_id, a.rule, a.severity, COALESCE(a.outcome, 'open') AS outcome,
       count(*) AS count
{MONTH_ALERTS}
GROUP BY c.district_id, a.rule, a.severity, outcome
ORDER BY c.district_id, a.rule, outcome
"""

RESPONSE_SQL: Final = f"""
SELECT c.district_id, a.severity, count(*) AS alerts,
       count(a.acknowledged_at) AS acknowledged,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.acknowledged_at
           - a.opened_at)) AS median_ack_s,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM a.acknowledged_at
           - a.opened_at)) AS p90_ack_s,
       count(*) FILTER (WHERE a.acknowledged_at - a.opened_at <= INTERVAL '60 seconds')
           AS acked_within_60s,
       count(a.on_site_at) AS on_site,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.on_site_at
           - a.opened_at)) AS median_on_site_s,
       count(*) FILTER (WHERE a.on_site_at - a.opened_at <= INTERVAL '45 minutes')
           AS on_site_within_45min
{MONTH_ALERTS}
GROUP BY c.district_id, a.severity
ORDER BY c.district_id, array_position(%s::text[], a.severity)
"""

DELIVERIES_SQL: Final = """
SELECT c.district_id, n.id AS notification_id, n.alert_id, a.rule, n.level, n.round,
       n.channel, n.provider, n.to_address, ct.name AS contact_name, n.status, n.attempts,
       n.error, n.fallback_of, n.created_at, n.sent_at, n.updated_at
FROM notifications n
JOIN alerts a ON a.id = n.alert_id
JOIN elders e ON e.id = a.elder_id
JOIN communities c ON c.id = e.community_id
LEFT JOIN contacts ct ON ct.id = n.contact_id
WHERE NOT a.test AND a.opened_at >= %s AND a.opened_at < %s AND {scope}
ORDER BY c.district_id, n.alert_id, n.id
"""


def rule_label(rule: str) -> str:
    """The rule's name in the messages people received (self_test_failed reads "fault")."""
    known = RULES_BY_NAME.get(rule)
    try:
        kind = AlertKind(known.kind if known else rule)
    except ValueError:
        return rule
    return KINDS[(kind, "zh-CN")].event


def alert_counts(
    conn: psycopg.Connection[Any], scope: Scope, start: datetime, end: datetime
) -> list[Row]:
    """Alerts opened in [start, end) per district, rule, severity and outcome ('open'
    while unresolved)."""
    condition, params = scope
    return fetch_all(conn, COUNTS_SQL.format(scope=condition), [start, end, *params])


def response_times(
    conn: psycopg.Connection[Any], scope: Scope, start: datetime, end: datetime
) -> list[Row]:
    """Per district and severity (most severe first): how many alerts, how many and how
    fast acknowledged and attended on site."""
    condition, params = scope
    return fetch_all(
        conn, RESPONSE_SQL.format(scope=condition), [start, end, *params, SEVERITY_ORDER]
    )


def delivery_attempts(
    conn: psycopg.Connection[Any], scope: Scope, start: datetime, end: datetime
) -> list[Row]:
    """Every notification of the alerts opened in [start, end), with its contact's name."""
    condition, params = scope
    return fetch_all(conn, DELIVERIES_SQL.format(scope=condition), [start, end, *params])
