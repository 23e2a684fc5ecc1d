"""What happened in a home over time, as an actor sees it: the elder's activity heat-map
(PIR motion per local hour and day) and a device's bucketed reading history (gas LEL,
battery, signal …).

The rows come from `ingest.queries`; the bins start at a local midnight of the elder's
time zone, so hours and days are the ones people live by. Who may look is decided as
everywhere else: the PERMISSIONS rows "activity" and "readings", and the elder or device
must be visible to the actor (else 404).
"""

import logging
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import psycopg

from api.schemas_views import (
    ActivityHeatmap,
    Bucket,
    ReadingField,
    ReadingHistory,
    ReadingPoint,
    query_error,
)
from core.zones import DEFAULT_ZONE, zone_or_default
from device_registry.access import Actor
from device_registry.devices import visible_device
from device_registry.elders import elder_timezone, visible_elder
from ingest import queries

log = logging.getLogger(__name__)

MAX_DAYS: Final = 31
MAX_POINTS: Final = 2000  # more than a phone can draw usefully
DEFAULT_RANGE: Final = timedelta(days=7)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


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
    hours = queries.motion_per_hour(conn, elder["home_id"], since, until, origin=since)
    for start, motions in hours.items():
        local = start.astimezone(zone)
        counts[index[local.date()]][local.hour] += motions
    return ActivityHeatmap(
        elder_id=elder_id,
        timezone=zone.key,
        days=local_days,
        counts=counts,
        total=sum(map(sum, counts)),
        max=max(map(max, counts)),
        last_motion_at=queries.last_motion(conn, elder["home_id"]),
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
    stored = elder_timezone(conn, device["elder_id"]) or DEFAULT_ZONE
    zone = _zone(stored, f"elder {device['elder_id']}")
    rows = queries.reading_buckets(
        conn,
        device_id,
        field.value,
        width=bucket.width,
        since=since,
        until=until,
        origin=local_midnight(since.astimezone(zone).date(), zone),
    )
    return ReadingHistory(
        device_id=device_id,
        field=field,
        bucket=bucket,
        since=since,
        until=until,
        points=[ReadingPoint(**row) for row in rows],
    )


def _zone(name: str, whose: str) -> ZoneInfo:
    """A stored zone the system does not know is read as the default, never a 500: the
    answer names the zone it used, and the log the row to correct."""
    zone, usable = zone_or_default(name)
    if not usable:
        log.error("%s: stored time zone %r is unknown; answering in %s", whose, name, zone.key)
    return zone
