"""Routes for what happened in a home over time: the elder's activity heat-map and a
device's bucketed reading history. HTTP only; the answers are built by api.history_views
from ingest.queries.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ClockDep, CurrentActor, DbDep
from api.history_views import MAX_DAYS, activity, history
from api.schemas_views import ActivityHeatmap, Bucket, ReadingField, ReadingHistory
from api.views import PersonalDataRoute
from core.inputs import DeviceId, RowId

router = APIRouter(tags=["history"], route_class=PersonalDataRoute)


# --- routes ----------------------------------------------------------------------------------


@router.get(
    "/elders/{elder_id}/activity",
    summary="PIR motion per local hour and day: the activity heat-map",
    description=(
        "Motion reports of the home's PIR sensors, counted per hour of the elder's local "
        "time over the last `days` days (today included, oldest first). An empty hour is "
        "0: nobody moved, or the sensor was silent — the device list tells which."
    ),
)
def read_activity(
    db: DbDep,
    actor: CurrentActor,
    clock: ClockDep,
    elder_id: RowId,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 7,
) -> ActivityHeatmap:
    with db.transaction() as conn:
        return activity(conn, actor, elder_id, days, clock())


@router.get(
    "/devices/{device_id}/readings",
    summary="A device's readings of one field, bucketed (min, max, average, count)",
    description=(
        "`field`: gas_lel, battery, rssi, temperature, smoke_density or illuminance. "
        "`since`/`until` default to the last 7 days; `bucket` (5m, 15m, 1h, 6h, 1d) starts "
        "at local midnight. At most 2000 buckets per answer."
    ),
)
def read_readings(
    db: DbDep,
    actor: CurrentActor,
    clock: ClockDep,
    device_id: DeviceId,
    field: ReadingField,
    bucket: Bucket = Bucket.HOUR,
    since: Annotated[datetime | None, Query(description="from (default: until − 7 days)")] = None,
    until: Annotated[datetime | None, Query(description="to, exclusive (default: now)")] = None,
) -> ReadingHistory:
    with db.transaction() as conn:
        return history(conn, actor, device_id, field, bucket, since, until, clock())
