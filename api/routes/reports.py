"""The route of the monthly report for the civil-affairs bureau: JSON, or CSV with
format=csv. HTTP only; the report is built by api.report_views from alerting.reports.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CurrentActor, DbDep
from api.report_views import MONTH_PATTERN, monthly_report, report_csv
from api.schemas_views import MonthlyReport, ReportFormat
from api.views import PersonalDataRoute
from core.inputs import RowId
from device_registry.personal import view_for

router = APIRouter(prefix="/reports", tags=["reports"], route_class=PersonalDataRoute)


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
