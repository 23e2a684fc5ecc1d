"""What happened in a home over time: the elder's activity heat-map (PIR motion per local
hour and day) and a device's bucketed reading history (gas LEL, battery, signal …).

Both bucket in SQL with `date_bin`, which plain PostgreSQL and TimescaleDB share. The
bins start at a local midnight, so hours and days are the ones people live by. Who may
look is decided as everywhere else: the PERMISSIONS rows "activity" and "readings", and
the elder or device must be visible to the actor (else 404).
"""

import logging
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Query
from psycopg import sql

from api.deps import ClockDep, CurrentActor, DbDep
from api.schemas_views import (
    ActivityHeatmap,
    Bucket,
    ReadingField,
    ReadingHistory,
    ReadingPoint,
    query_error,
)
from api.views import PersonalDataRoute
from core.inputs import DeviceId, RowId
from core.zones import DEFAULT_ZONE, zone_or_default
from device_registry.access import Actor
from device_registry.db import fetch_all, fetch_one
from device_registry.devices import visible_device
from device_registry.elders import visible_elder

log = logging.getLogger(__name__)
router = APIRouter(tags=["history"], route_class=PersonalDataRoute)

MAX_DAYS: Final = 31
MAX_POINTS: Final = 2000  # more than a phone can draw usefully
DEFAULT_RANGE: Final = timedelta(days=7)

MOTION_PER_HOUR_SQL = """
SELECT date_bin(INTERVAL '1 hour', r.ts, %(origin)s) AS bin, count(*) AS motions
FROM readings r
JOIN devices d ON d.device_id = r.device_id
WHERE d.home_id = %(home_id)s AND d.device_type = 'pir' AND r.motion
  AND r.ts >= %(since)s AND r.ts < %(until)s
GROUP BY bin
"""

LAST_MOTION_SQL = """
SELECT max(s.last_motion_at) AS last_motion_at
FROM devices d JOIN device_state s ON s.device_id = d.device_id
WHERE d.home_id = %(home_id)s
"""

# {column} is a ReadingField, quoted as an identifier.
READING_BUCKETS_SQL = """
SELECT date_bin(%(width)s, ts, %(origin)s) AS at,
       min({column})::float8 AS min, max({column})::float8 AS max,
       avg({column})::float8 AS avg, count({column}) AS count
FROM readings
WHERE device_id = %(device_id)s AND ts >= %(since)s AND ts < %(until)s
  AND {column} IS NOT NULL
GROUP BY at ORDER BY at
"""


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


# --- queries -----------------------------------------------------------------------------


def motion_per_hour(
    conn: psycopg.Connection[Any], home_id: int, since: datetime, until: datetime
) -> dict[datetime, int]:
    """Motion reports of the home's PIR sensors per hour; keys are bin starts (UTC)."""
    rows = fetch_all(
        conn,
        MOTION_PER_HOUR_SQL,
        {"home_id": home_id, "since": since, "until": until, "origin": since},
    )
    return {row["bin"]: int(row["motions"]) for row in rows}


def last_motion(conn: psycopg.Connection[Any], home_id: int) -> datetime | None:
    row = fetch_one(conn, LAST_MOTION_SQL, {"home_id": home_id})
    return None if row is None else row["last_motion_at"]


def reading_buckets(
    conn: psycopg.Connection[Any],
    device_id: str,
    field: ReadingField,
    bucket: Bucket,
    since: datetime,
    until: datetime,
    origin: datetime,
) -> list[ReadingPoint]:
    query = sql.SQL(READING_BUCKETS_SQL).format(column=sql.Identifier(field.value))
    params = {
        "device_id": device_id,
        "width": bucket.width,
        "since": since,
        "until": until,
        "origin": origin,
    }
    return [ReadingPoint(**row) for row in fetch_all(conn, query, params)]


# --- what the routes answer ----------------------------------------------------------------


def activity(
    conn: psycopg.Connection[Any], actor: Actor, elder_id: int, days: int, now: datetime
) -> ActivityHeatmap:
    actor.require("activity", "read")
    elder = visible_elder(conn, actor, elder_id)
    zone = _zone(elder["timezone"], f"elder {elder_id}")
    today = now.astimezone(zone).date()
    local_days = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    since = local_midnight(local_days[0], zone)
    until = local_midnight(today + timedelta(days=1), zone)
    counts = [[0] * 24 for _ in local_days]
    index = {day: i for i, day in enumerate(local_days)}
    for start, motions in motion_per_hour(conn, elder["home_id"], since, until).items():
        local = start.astimezone(zone)
        counts[index[local.date()]][local.hour] += motions
    return ActivityHeatmap(
        elder_id=elder_id,
        timezone=zone.key,
        days=local_days,
        counts=counts,
        total=sum(map(sum, counts)),
        max=max(map(max, counts)),
        last_motion_at=last_motion(conn, elder["home_id"]),
    )


def history(
    conn: psycopg.Connection[Any],
    actor: Actor,
    device_id: str,
    field: ReadingField,
    bucket: Bucket,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> ReadingHistory:
    actor.require("readings", "read")
    device = visible_device(conn, actor, device_id)
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise query_error(name, "give the time with its offset, e.g. +08:00")
    until = until or now
    since = since or until - DEFAULT_RANGE
    if since >= until:
        raise query_error("since", "since must be before until")
    if (until - since) / bucket.width > MAX_POINTS:
        raise query_error(
            "bucket", f"more than {MAX_POINTS} buckets: choose a larger bucket or a shorter range"
        )
    zone = _zone(_timezone_of(conn, device["elder_id"]), f"elder {device['elder_id']}")
    origin = local_midnight(since.astimezone(zone).date(), zone)
    points = reading_buckets(conn, device_id, field, bucket, since, until, origin)
    return ReadingHistory(
        device_id=device_id, field=field, bucket=bucket, since=since, until=until, points=points
    )


def _timezone_of(conn: psycopg.Connection[Any], elder_id: int | None) -> str:
    row = fetch_one(conn, "SELECT timezone FROM elders WHERE id = %s", (elder_id,))
    return DEFAULT_ZONE if row is None else str(row["timezone"])


def _zone(name: str, whose: str) -> ZoneInfo:
    """A stored zone the system does not know is read as the default, never a 500: the
    answer names the zone it used, and the log the row to correct."""
    zone, usable = zone_or_default(name)
    if not usable:
        log.error("%s: stored time zone %r is unknown; answering in %s", whose, name, zone.key)
    return zone


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
