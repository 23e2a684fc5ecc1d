"""Timer rules, derived from stored facts at each check — never from countdowns in
memory, so a restart neither resets nor forgets them.

- device offline: no message for max(3 × heartbeat interval, 10 min) from a commissioned
  device; it closes by itself when the device is heard again;
- inactivity: the elder is home, at least one of their PIR sensors is online, and there
  has been no motion for 12 h, or none since the end of the night by 10:00 local time.
  An offline PIR is never "no activity": that is its own offline alert.
"""

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from alerting import store
from alerting.engine import AlertEngine
from alerting.rules import RULES_BY_NAME, RuleSettings
from core.isolation import degraded, each_item
from core.zones import zone_or_default

OFFLINE = RULES_BY_NAME["device_offline"]
INACTIVITY = RULES_BY_NAME["inactivity"]

SILENT_DEVICES_SQL = """
SELECT d.device_id, h.elder_id, d.heartbeat_interval_s,
       COALESCE(s.last_seen_at, d.commissioned_at) AS last_heard,
       COALESCE(di.rule_settings, '{}') AS district_settings,
       COALESCE(e.rule_settings, '{}') AS elder_settings
FROM devices d
JOIN homes h ON h.id = d.home_id
JOIN elders e ON e.id = h.elder_id
JOIN communities c ON c.id = e.community_id
JOIN districts di ON di.id = c.district_id
LEFT JOIN device_state s ON s.device_id = d.device_id
WHERE d.state = 'commissioned'
  -- candidates only: silent for a heartbeat at least; the thresholds are applied per elder
  AND COALESCE(s.last_seen_at, d.commissioned_at) < %(now)s - make_interval(secs =>
      d.heartbeat_interval_s)
"""

HEARD_AGAIN_SQL = """
SELECT a.id, a.elder_id, a.device_id FROM alerts a
JOIN device_state s ON s.device_id = a.device_id
WHERE a.rule = 'device_offline' AND a.status <> 'resolved' AND s.last_seen_at > a.opened_at
"""

# Elders at home with at least one PIR heard recently enough to count as online.
PIR_ELDERS_SQL = """
SELECT e.id AS elder_id, e.timezone, max(s.last_motion_at) AS last_motion,
       min(d.commissioned_at) AS watched_since,
       COALESCE(max(di.rule_settings::text), '{}')::jsonb AS district_settings,
       e.rule_settings AS elder_settings
FROM elders e
JOIN communities c ON c.id = e.community_id
JOIN districts di ON di.id = c.district_id
JOIN homes h ON h.elder_id = e.id
JOIN devices d ON d.home_id = h.id AND d.device_type = 'pir' AND d.state = 'commissioned'
JOIN device_state s ON s.device_id = d.device_id
WHERE e.presence = 'home'
  AND s.last_seen_at >= %(now)s - make_interval(secs => greatest(3 * d.heartbeat_interval_s, 600))
GROUP BY e.id
"""


OFFLINE_JOB = "device-offline"
INACTIVITY_JOB = "inactivity"


def check_offline(engine: AlertEngine) -> int:
    """Open an offline alert for each silent device, close those heard again; each
    device and alert on its own (core.isolation). Returns how many were opened."""
    now = engine.clock()
    with engine.pool.connection() as conn:
        silent = store.fetch_all(conn, SILENT_DEVICES_SQL, {"now": now})
        opened = each_item(
            OFFLINE_JOB,
            silent,
            lambda row: _offline_if_silent(engine, conn, row, now),
            key=lambda row: f"device {row['device_id']}",
            conn=conn,
        )
        each_item(
            OFFLINE_JOB,
            store.fetch_all(conn, HEARD_AGAIN_SQL),
            lambda row: engine.clear(conn, OFFLINE, row["elder_id"], row["device_id"], now),
            key=lambda row: f"alert {row['id']}",
            conn=conn,
        )
    return sum(1 for row in opened.done if row["opened"])


def _offline_if_silent(
    engine: AlertEngine, conn: psycopg.Connection[Any], row: store.Row, now: datetime
) -> None:
    settings = RuleSettings.merged(row["district_settings"], row["elder_settings"])
    silent_for = max(
        settings.offline_heartbeats * row["heartbeat_interval_s"],
        settings.offline_min_minutes * 60,
    )
    row["opened"] = now - row["last_heard"] >= timedelta(seconds=silent_for)
    if row["opened"]:
        engine.trigger(conn, OFFLINE, row["elder_id"], row["device_id"], row["last_heard"], now)


def check_inactivity(engine: AlertEngine) -> int:
    """Raise or clear each watched elder's inactivity alert, each elder on its own
    (core.isolation). Returns how many were raised."""
    now = engine.clock()
    with engine.pool.connection() as conn:
        elders = store.fetch_all(conn, PIR_ELDERS_SQL, {"now": now})
        outcome = each_item(
            INACTIVITY_JOB,
            elders,
            lambda row: _inactivity(engine, conn, row, now),
            key=lambda row: f"elder {row['elder_id']}",
            conn=conn,
        )
    return sum(1 for row in outcome.done if row["raised"])


def _inactivity(
    engine: AlertEngine, conn: psycopg.Connection[Any], row: store.Row, now: datetime
) -> None:
    settings = RuleSettings.merged(row["district_settings"], row["elder_settings"])
    last = row["last_motion"] or row["watched_since"]
    row["raised"] = last is not None and _inactive(last, now, _zone(row), settings)
    if row["raised"]:
        engine.trigger(conn, INACTIVITY, row["elder_id"], None, last, now)
    elif last is not None:
        _clear_if_moving(engine, conn, row["elder_id"], last, now)


def _zone(row: store.Row) -> ZoneInfo:
    """The elder's zone; an unusable stored one is reported and read as the default, so
    the elder is still watched (every district is on Asia/Shanghai today)."""
    zone, usable = zone_or_default(row["timezone"])
    if not usable:
        degraded(
            INACTIVITY_JOB,
            f"elder {row['elder_id']}",
            f"stored time zone {row['timezone']!r} is unknown; using {zone.key}",
        )
    return zone


def _inactive(last_motion: datetime, now: datetime, zone: ZoneInfo, settings: RuleSettings) -> bool:
    if now - last_motion >= timedelta(hours=settings.inactivity_hours):
        return True
    local = now.astimezone(zone)
    if local.time() < time(settings.morning_hour):
        return False
    night_end = datetime.combine(local.date(), time(settings.night_end_hour), local.tzinfo)
    return last_motion < night_end


def _clear_if_moving(
    engine: AlertEngine,
    conn: psycopg.Connection[Any],
    elder_id: int,
    last_motion: datetime,
    now: datetime,
) -> None:
    alert = store.open_alert_for(conn, elder_id, INACTIVITY.name, None)
    if alert is not None and last_motion > alert["opened_at"]:
        engine.clear(conn, INACTIVITY, elder_id, None, now)
