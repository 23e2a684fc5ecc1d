"""Named SQL for devices that need a visit: commissioned devices that went silent or
offline, and low batteries — in the caller's scope, an SQL condition on `e` (elders) and
`c` (communities) with its parameters, at most `limit` of each.

The thresholds are the caller's: the overview passes the alert rules' defaults, so it
shows the same devices the engine would alert on.
"""

from datetime import datetime
from typing import Any, Final

import psycopg

from core.db import Row, Scope, fetch_all

DEVICE_SELECT: Final = """
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
OFFLINE_SQL: Final = f"""
{DEVICE_SELECT}
WHERE d.state = 'commissioned'
  AND (s.online IS FALSE
       OR COALESCE(s.last_seen_at, d.commissioned_at) < %s - make_interval(secs =>
          greatest(%s * d.heartbeat_interval_s, %s)))
  AND {{scope}}
ORDER BY s.last_seen_at NULLS FIRST, d.device_id
LIMIT %s
"""

LOW_BATTERY_SQL: Final = f"""
{DEVICE_SELECT}
WHERE d.state IN ('commissioned', 'maintenance') AND (s.battery < %s OR s.battery_low)
  AND {{scope}}
ORDER BY s.battery NULLS FIRST, d.device_id
LIMIT %s
"""


def offline_devices(
    conn: psycopg.Connection[Any],
    scope: Scope,
    now: datetime,
    *,
    heartbeats: int,
    min_silence_s: int,
    limit: int,
) -> list[Row]:
    """Devices offline, or silent for `heartbeats` heartbeat intervals (at least
    `min_silence_s`), longest silent first."""
    condition, params = scope
    silent = [now, heartbeats, min_silence_s]
    return fetch_all(conn, OFFLINE_SQL.format(scope=condition), [*silent, *params, limit])


def low_battery_devices(
    conn: psycopg.Connection[Any], scope: Scope, *, threshold: int, limit: int
) -> list[Row]:
    """Devices below `threshold` % or reporting a low battery, emptiest first."""
    condition, params = scope
    return fetch_all(conn, LOW_BATTERY_SQL.format(scope=condition), [threshold, *params, limit])
