"""Named SQL for reading back what devices reported: motion per hour in a home, the last
motion seen, and one reading column bucketed over time.

Both bucketings use `date_bin`, which plain PostgreSQL and TimescaleDB share; the caller
chooses the bins' origin (the API passes a local midnight, so hours and days are the ones
people live by). Who may look is not decided here: the caller has already found the home
or device visible to its reader.
"""

from datetime import datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg import sql

from core.db import Row, fetch_all, fetch_one

# The numeric columns of `readings` a history may be drawn of; any other name is refused
# before it reaches SQL (it is quoted as an identifier, so this guards sense, not safety).
READING_COLUMNS: Final = frozenset(
    {"gas_lel", "battery", "rssi", "temperature", "smoke_density", "illuminance"}
)

MOTION_PER_HOUR_SQL: Final = """
SELECT date_bin(INTERVAL '1 hour', r.ts, %(origin)s) AS bin, count(*) AS motions
FROM readings r
JOIN devices d ON d.device_id = r.device_id
WHERE d.home_id = %(home_id)s AND d.device_type = 'pir' AND r.motion
  AND r.ts >= %(since)s AND r.ts < %(until)s
GROUP BY bin
"""

LAST_MOTION_SQL: Final = """
SELECT max(s.last_motion_at) AS last_motion_at
FROM devices d JOIN device_state s ON s.device_id = d.device_id
WHERE d.home_id = %(home_id)s
"""

# {column} is one of READING_COLUMNS, quoted as an identifier.
READING_BUCKETS_SQL: Final = """
SELECT date_bin(%(width)s, ts, %(origin)s) AS at,
       min({column})::float8 AS min, max({column})::float8 AS max,
       avg({column})::float8 AS avg, count({column}) AS count
FROM readings
WHERE device_id = %(device_id)s AND ts >= %(since)s AND ts < %(until)s
  AND {column} IS NOT NULL
GROUP BY at ORDER BY at
"""


def motion_per_hour(
    conn: psycopg.Connection[Any],
    home_id: int,
    since: datetime,
    until: datetime,
    origin: datetime,
) -> dict[datetime, int]:
    """Motion reports of the home's PIR sensors per hour from `origin`; keys are the bins'
    starts (UTC)."""
    params = {"home_id": home_id, "since": since, "until": until, "origin": origin}
    return {row["bin"]: int(row["motions"]) for row in fetch_all(conn, MOTION_PER_HOUR_SQL, params)}


def last_motion(conn: psycopg.Connection[Any], home_id: int) -> datetime | None:
    """When any device of the home last saw someone move (None: never)."""
    row = fetch_one(conn, LAST_MOTION_SQL, {"home_id": home_id})
    return None if row is None else row["last_motion_at"]


def reading_buckets(
    conn: psycopg.Connection[Any],
    device_id: str,
    column: str,
    *,
    width: timedelta,
    since: datetime,
    until: datetime,
    origin: datetime,
) -> list[Row]:
    """min, max, avg and count of `column` per bucket of `width` from `origin`, oldest
    first; buckets without a value are left out."""
    if column not in READING_COLUMNS:
        raise ValueError(f"no history of {column!r}; one of {', '.join(sorted(READING_COLUMNS))}")
    query = sql.SQL(READING_BUCKETS_SQL).format(column=sql.Identifier(column))
    params = {
        "device_id": device_id,
        "width": width,
        "since": since,
        "until": until,
        "origin": origin,
    }
    return fetch_all(conn, query, params)
