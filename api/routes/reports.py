"""The monthly report for the civil-affairs bureau: per district and month, alerts by
rule and outcome, response times, and every delivery attempt — as JSON for the web app
and as a CSV download for the bureau's spreadsheets.

The month is a local month (Asia/Shanghai). Test alerts (devices being installed) are not
in it. Phone numbers and provider errors are shown to each role as in alert details
(device_registry.personal).

The CSV holds three tables one after another, separated by an empty row: `summary`
(response times), `alerts` (counts by rule and outcome) and `deliveries`. The first
column of every row names its table, so a spreadsheet filter or a script splits them.
It is written by core.spreadsheet, the one CSV writer: a cell that a spreadsheet would run
as a formula is written as text, phone numbers as `tel:+86-138-…`.
"""

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Query
from fastapi.responses import Response

from alerting.rules import RULES_BY_NAME
from alerting.templates.catalog import KINDS, AlertKind
from api.deps import CurrentActor, DbDep
from api.schemas_views import (
    LOCAL_TZ,
    DeliveryAttempt,
    DistrictReport,
    MonthlyReport,
    ReportFormat,
    ResponseTimes,
    RuleOutcomeCount,
)
from api.views import PersonalDataRoute
from core.inputs import RowId
from core.spreadsheet import csv_text
from device_registry.access import Actor
from device_registry.db import fetch_all
from device_registry.personal import view_for

router = APIRouter(prefix="/reports", tags=["reports"], route_class=PersonalDataRoute)

MONTH_PATTERN: Final = r"^2\d{3}-(0[1-9]|1[0-2])$"  # from 2000: no report is older

# Alerts of the month in the actor's districts; {scope} is Actor.elder_filter's condition.
MONTH_ALERTS = """
FROM alerts a
JOIN elders e ON e.id = a.elder_id
JOIN communities c ON c.id = e.community_id
WHERE NOT a.test AND a.opened_at >= %s AND a.opened_at < %s AND {scope}
"""

DISTRICTS_SQL = "SELECT d.id, d.name FROM districts d WHERE {scope} ORDER BY d.name"

COUNTS_SQL = f"""
SELECT c.district_id, a.rule, a.severity, COALESCE(a.outcome, 'open') AS outcome,
       count(*) AS count
{MONTH_ALERTS}
GROUP BY c.district_id, a.rule, a.severity, outcome
ORDER BY c.district_id, a.rule, outcome
"""

RESPONSE_SQL = f"""
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
ORDER BY c.district_id, array_position(ARRAY['critical', 'warning', 'maintenance'], a.severity)
"""

DELIVERIES_SQL = """
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


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start, end


def rule_label(rule: str) -> str:
    """The rule's name in the messages people received (self_test_failed reads "fault")."""
    known = RULES_BY_NAME.get(rule)
    try:
        kind = AlertKind(known.kind if known else rule)
    except ValueError:
        return rule
    return KINDS[(kind, "zh-CN")].event


# --- queries -------------------------------------------------------------------------------


def visible_districts(conn: psycopg.Connection[Any], actor: Actor) -> list[dict[str, Any]]:
    # Reports are read by district-scoped staff and admins only (PERMISSIONS), so the
    # elder column never decides here.
    scope, params = actor.elder_filter("NULL", "d.id")
    return fetch_all(conn, DISTRICTS_SQL.format(scope=scope), params)


def alert_counts(
    conn: psycopg.Connection[Any], actor: Actor, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    scope, params = actor.elder_filter("e.id", "c.district_id")
    return fetch_all(conn, COUNTS_SQL.format(scope=scope), [start, end, *params])


def response_times(
    conn: psycopg.Connection[Any], actor: Actor, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    scope, params = actor.elder_filter("e.id", "c.district_id")
    return fetch_all(conn, RESPONSE_SQL.format(scope=scope), [start, end, *params])


def delivery_attempts(
    conn: psycopg.Connection[Any], actor: Actor, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    scope, params = actor.elder_filter("e.id", "c.district_id")
    return fetch_all(conn, DELIVERIES_SQL.format(scope=scope), [start, end, *params])


# --- the report ----------------------------------------------------------------------------


def monthly_report(
    conn: psycopg.Connection[Any], actor: Actor, month: str, district_id: int | None = None
) -> MonthlyReport:
    actor.require("reports", "read")
    start, end = month_bounds(month, ZoneInfo(LOCAL_TZ))
    districts = {
        row["id"]: DistrictReport(
            district_id=row["id"], district_name=row["name"], alerts=[], response=[], deliveries=[]
        )
        for row in visible_districts(conn, actor)
        if district_id is None or row["id"] == district_id
    }
    for row in alert_counts(conn, actor, start, end):
        if row["district_id"] in districts:
            districts[row["district_id"]].alerts.append(
                RuleOutcomeCount(**row, rule_label=rule_label(row["rule"]))
            )
    for row in response_times(conn, actor, start, end):
        if row["district_id"] in districts:
            districts[row["district_id"]].response.append(ResponseTimes(**row))
    for row in delivery_attempts(conn, actor, start, end):
        if row["district_id"] in districts:
            districts[row["district_id"]].deliveries.append(
                DeliveryAttempt(**row, destination=row["to_address"])
            )
    return MonthlyReport(
        month=month, timezone=LOCAL_TZ, start=start, end=end, districts=list(districts.values())
    )


# --- CSV -----------------------------------------------------------------------------------

SUMMARY_COLUMNS: Final = (
    "alerts",
    "acknowledged",
    "median_ack_s",
    "p90_ack_s",
    "acked_within_60s",
    "on_site",
    "median_on_site_s",
    "on_site_within_45min",
)
ALERT_COLUMNS: Final = ("rule", "rule_label", "severity", "outcome", "count")
DELIVERY_COLUMNS: Final = (
    "notification_id",
    "alert_id",
    "rule",
    "level",
    "round",
    "channel",
    "provider",
    "destination",
    "contact_name",
    "status",
    "attempts",
    "error",
    "fallback_of",
    "created_at",
    "sent_at",
)


def report_csv(report: MonthlyReport) -> str:
    zone = ZoneInfo(report.timezone)
    rows: list[list[Any]] = []

    def table(section: str, columns: tuple[str, ...], items: Iterable[tuple[str, Any]]) -> None:
        """One table: a header row, then its rows, each led by section, month, district."""
        rows.append(["section", "month", "district", *columns])
        for district, item in items:
            values = [_cell(getattr(item, column), zone) for column in columns]
            rows.append([section, report.month, district, *values])

    table(
        "summary",
        ("severity", *SUMMARY_COLUMNS),
        ((d.district_name, r) for d in report.districts for r in d.response),
    )
    rows.append([])
    table(
        "alerts", ALERT_COLUMNS, ((d.district_name, a) for d in report.districts for a in d.alerts)
    )
    rows.append([])
    table(
        "deliveries",
        DELIVERY_COLUMNS,
        ((d.district_name, n) for d in report.districts for n in d.deliveries),
    )
    return csv_text(rows)


def _cell(value: Any, zone: ZoneInfo) -> Any:
    """Local wall-clock times and whole seconds: what a person reads in a spreadsheet."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return round(value)
    return value


# --- route ---------------------------------------------------------------------------------


@router.get(
    "/monthly",
    summary="Monthly report for the civil-affairs bureau (JSON, or CSV with format=csv)",
    description=(
        "Per district you look after and local month (Asia/Shanghai): alerts by rule and "
        "outcome (`open` if not resolved), response times per severity (median and 90th "
        "percentile seconds to acknowledge, acknowledged within 60 s, median seconds to "
        "arrive on site, on site within 45 min), and every delivery attempt. Test alerts "
        "are left out. `format=csv` downloads the same as one CSV file of three tables. "
        "Operators and admins."
    ),
    response_model=MonthlyReport,
    responses={200: {"content": {"text/csv": {}}}},
)
def read_monthly(
    db: DbDep,
    actor: CurrentActor,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM")],
    district_id: RowId | None = None,
    format: ReportFormat = ReportFormat.JSON,
) -> Any:
    with db.transaction() as conn:
        # the CSV is no model answer: it is shown to its reader here
        report = view_for(monthly_report(conn, actor, month, district_id), actor.role)
    if format is ReportFormat.JSON:
        return report
    return Response(
        content=report_csv(report).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="nuanxin-report-{month}.csv"'},
    )
