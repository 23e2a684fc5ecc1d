"""The operator overview: what is open now, which devices need a visit, and how fast
critical alerts were answered this week — for the districts the operator looks after.

Scope comes from `Actor.elder_filter` over the elder and district columns, as in every
list; test alerts (devices being installed) never count.
"""

from datetime import datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter

from alerting import queries
from alerting.rules import RuleSettings
from api.deps import ClockDep, CurrentActor, DbDep
from api.schemas_views import LOCAL_TZ, DeviceAttention, OpenAlertCount, Overview, WeekResponse
from api.views import PersonalDataRoute
from core.db import Scope
from device_registry import attention
from device_registry.access import Actor

router = APIRouter(tags=["overview"], route_class=PersonalDataRoute)

LIST_LIMIT: Final = 200
# The rules' defaults: the overview shows the same devices the engine would alert on.
DEFAULTS: Final = RuleSettings()


def week_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Monday 00:00 local time of the week `now` is in."""
    local = now.astimezone(zone).date()
    return datetime.combine(local - timedelta(days=local.weekday()), time(0), zone)


# --- reading ------------------------------------------------------------------------------


def scope_of(actor: Actor) -> Scope:
    return actor.elder_filter("e.id", "c.district_id")


def overview(conn: psycopg.Connection[Any], actor: Actor, now: datetime) -> Overview:
    actor.require("overview", "read")
    scope, since = scope_of(actor), week_start(now, ZoneInfo(LOCAL_TZ))
    return Overview(
        generated_at=now,
        open_alerts=[OpenAlertCount(**row) for row in queries.open_alert_counts(conn, scope)],
        offline=[
            DeviceAttention(**row)
            for row in attention.offline_devices(
                conn,
                scope,
                now,
                heartbeats=DEFAULTS.offline_heartbeats,
                min_silence_s=DEFAULTS.offline_min_minutes * 60,
                limit=LIST_LIMIT,
            )
        ],
        low_battery=[
            DeviceAttention(**row)
            for row in attention.low_battery_devices(
                conn, scope, threshold=DEFAULTS.battery_threshold, limit=LIST_LIMIT
            )
        ],
        week=WeekResponse(since=since, **queries.critical_response(conn, scope, since)),
    )


# --- route ---------------------------------------------------------------------------------


@router.get(
    "/overview",
    summary="Open alerts, devices needing a visit, this week's response times",
    description=(
        "For your districts: open alerts by district and severity; commissioned devices "
        "that are offline or silent for 3 heartbeats (at least 10 min); devices with a "
        "battery under 20 %; and for critical alerts opened since Monday 00:00 (Asia/"
        "Shanghai) the median seconds to acknowledge and to arrive on site. Test alerts "
        "do not count. Operators and admins."
    ),
)
def read_overview(db: DbDep, actor: CurrentActor, clock: ClockDep) -> Overview:
    with db.transaction() as conn:
        return overview(conn, actor, clock())
