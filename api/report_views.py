"""The monthly report for the civil-affairs bureau as an actor sees it: per district and
month, alerts by rule and outcome, response times, and every delivery attempt — as JSON
for the web app and as a CSV download for the bureau's spreadsheets. The rows come from
`alerting.reports`, the districts from `device_registry.districts`.

The month is a local month (Asia/Shanghai). Test alerts (devices being installed) are not
in it. Phone numbers and provider errors are shown to each role as in alert details
(device_registry.personal, applied by the route).

The CSV holds three tables one after another, separated by an empty row: `summary`
(response times), `alerts` (counts by rule and outcome) and `deliveries`. The first
column of every row names its table, so a spreadsheet filter or a script splits them.
It is written by core.spreadsheet, the one CSV writer: a cell that a spreadsheet would run
as a formula is written as text, phone numbers as `tel:+86-138-…`.
"""

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Any, Final
from zoneinfo import ZoneInfo

import psycopg

from alerting import reports
from api.schemas_views import (
    LOCAL_TZ,
    DeliveryAttempt,
    DistrictReport,
    MonthlyReport,
    ResponseTimes,
    RuleOutcomeCount,
)
from core.spreadsheet import csv_text
from device_registry.access import Actor
from device_registry.districts import districts_in_scope

MONTH_PATTERN: Final = r"^2\d{3}-(0[1-9]|1[0-2])$"  # from 2000: no report is older


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start, end


# --- the report ----------------------------------------------------------------------------


def monthly_report(
    conn: psycopg.Connection[Any], actor: Actor, month: str, district_id: int | None = None
) -> MonthlyReport:
    actor.require("reports", "read")
    start, end = month_bounds(month, ZoneInfo(LOCAL_TZ))
    # Reports are read by district-scoped staff and admins only (PERMISSIONS), so the
    # elder column never decides here.
    districts = {
        row["id"]: DistrictReport(
            district_id=row["id"], district_name=row["name"], alerts=[], response=[], deliveries=[]
        )
        for row in districts_in_scope(conn, actor.elder_filter("NULL", "d.id"))
        if district_id is None or row["id"] == district_id
    }
    scope = actor.elder_filter("e.id", "c.district_id")
    for row in reports.alert_counts(conn, scope, start, end):
        if row["district_id"] in districts:
            districts[row["district_id"]].alerts.append(
                RuleOutcomeCount(**row, rule_label=reports.rule_label(row["rule"]))
            )
    for row in reports.response_times(conn, scope, start, end):
        if row["district_id"] in districts:
            districts[row["district_id"]].response.append(ResponseTimes(**row))
    for row in reports.delivery_attempts(conn, scope, start, end):
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
