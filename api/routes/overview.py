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

from alerting.rules import RuleSettings
from api.deps import ClockDep, CurrentActor, DbDep
from api.schemas_views import LOCAL_TZ, DeviceAttention, OpenAlertCount, Overview, WeekResponse
from api.views import PersonalDataRoute
from device_registry.access import Actor
from device_registry.db import fetch_all, fetch_one

router = APIRouter(tags=["overview"], route_class=PersonalDataRoute)

LIST_LIMIT: Final = 200
# The rules' defaults: the overview shows the same devices the engine would alert on.
DEFAULTS: Final = RuleSettings()

HOMES = """
JOIN elders e ON e.id = a.elder_id
JOIN communities c ON c.id = e.community_id
JOIN districts di ON di.id = c.district_id
"""

OPEN_ALERTS_SQL = f"""
SELECT c.district_id, di.name AS district_name, a.severity, count(*) AS count
FROM alerts a {HOMES}
WHERE a.status <> 'resolved' AND NOT a.test AND {{scope}}
GROUP BY c.district_id, di.name, a.severity
ORDER BY di.name, array_position(ARRAY['critical', 'warning', 'maintenance'], a.severity)
"""

DEVICE_SELECT = """
SELECT d.device_id, d.device_type, e.id AS elder_id, e.name AS elder_name, h.address,
       di.name AS district_name, r.name AS room, s.online, s.last_seen_at, s.battery
FROM devices d
JOIN homes h ON h.id = d.home_id
JOIN elders e ON e.id = h.elder_id
JOIN communities c ON c.id = e.community_id
JOIN districts di ON di.id = c.district_id
LEFT JOIN rooms r ON r.id = d.room_id
LEFT JOIN device_state s ON s.device_id = d.device_id
"""

# Silent as the offline rule counts it (alerting.timers), or saying it went offline.
OFFLINE_SQL = f"""
{DEVICE_SELECT}
WHERE d.state = 'commissioned'
  AND (s.online IS FALSE
       OR COALESCE(s.last_seen_at, d.commissioned_at) < %s - make_interval(secs =>
          greatest(%s * d.heartbeat_interval_s, %s)))
  AND {{scope}}
ORDER BY s.last_seen_at NULLS FIRST, d.device_id
LIMIT %s
"""

LOW_BATTERY_SQL = f"""
{DEVICE_SELECT}
WHERE d.state IN ('commissioned', 'maintenance') AND (s.battery < %s OR s.battery_low)
  AND {{scope}}
ORDER BY s.battery NULLS FIRST, d.device_id
LIMIT %s
"""

WEEK_SQL = f"""
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


def week_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Monday 00:00 local time of the week `now` is in."""
    local = now.astimezone(zone).date()
    return datetime.combine(local - timedelta(days=local.weekday()), time(0), zone)


# --- queries -------------------------------------------------------------------------------


def open_alert_counts(conn: psycopg.Connection[Any], actor: Actor) -> list[OpenAlertCount]:
    scope, params = actor.elder_filter("e.id", "c.district_id")
    rows = fetch_all(conn, OPEN_ALERTS_SQL.format(scope=scope), params)
    return [OpenAlertCount(**row) for row in rows]


def offline_devices(
    conn: psycopg.Connection[Any], actor: Actor, now: datetime
) -> list[DeviceAttention]:
    scope, params = actor.elder_filter("e.id", "c.district_id")
    silent = [now, DEFAULTS.offline_heartbeats, DEFAULTS.offline_min_minutes * 60]
    rows = fetch_all(conn, OFFLINE_SQL.format(scope=scope), [*silent, *params, LIST_LIMIT])
    return [DeviceAttention(**row) for row in rows]


def low_battery_devices(conn: psycopg.Connection[Any], actor: Actor) -> list[DeviceAttention]:
    scope, params = actor.elder_filter("e.id", "c.district_id")
    rows = fetch_all(
        conn,
        LOW_BATTERY_SQL.format(scope=scope),
        [DEFAULTS.battery_threshold, *params, LIST_LIMIT],
    )
    return [DeviceAttention(**row) for row in rows]


def week_response(conn: psycopg.Connection[Any], actor: Actor, since: datetime) -> WeekResponse:
    scope, params = actor.elder_filter("e.id", "c.district_id")
    row = fetch_one(conn, WEEK_SQL.format(scope=scope), [since, *params])
    assert row is not None  # an aggregate always answers one row
    return WeekResponse(since=since, **row)


def overview(conn: psycopg.Connection[Any], actor: Actor, now: datetime) -> Overview:
    actor.require("overview", "read")
    return Overview(
        generated_at=now,
        open_alerts=open_alert_counts(conn, actor),
        offline=offline_devices(conn, actor, now),
        low_battery=low_battery_devices(conn, actor),
        week=week_response(conn, actor, week_start(now, ZoneInfo(LOCAL_TZ))),
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
