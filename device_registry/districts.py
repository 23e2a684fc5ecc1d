"""Districts (旗区, e.g. 东胜区) and their communities; staff are assigned to districts."""

from typing import Any

import psycopg

from core.db import Row, Scope
from core.errors import Conflict, NotFound
from device_registry import audit
from device_registry.access import Actor
from device_registry.db import fetch_all, fetch_one
from device_registry.schemas import (
    CommunityCreate,
    CommunityPublic,
    DistrictCreate,
    DistrictPublic,
)


def list_districts(conn: psycopg.Connection[Any], actor: Actor) -> list[DistrictPublic]:
    actor.require("districts", "read")
    rows = fetch_all(conn, "SELECT id, name, timezone FROM districts ORDER BY id")
    visible = [row for row in rows if actor.sees_district(row["id"])]
    return [_public(conn, row) for row in visible]


def districts_in_scope(conn: psycopg.Connection[Any], scope: Scope) -> list[Row]:
    """Id and name of the districts in `scope`, a condition on `d` (districts), by name."""
    condition, params = scope
    return fetch_all(
        conn, f"SELECT d.id, d.name FROM districts d WHERE {condition} ORDER BY d.name", params
    )


def get_district(conn: psycopg.Connection[Any], actor: Actor, district_id: int) -> DistrictPublic:
    actor.require("districts", "read")
    row = fetch_one(conn, "SELECT id, name, timezone FROM districts WHERE id = %s", (district_id,))
    if row is None or not actor.sees_district(district_id):
        raise NotFound(f"district {district_id} not found")
    return _public(conn, row)


def create_district(
    conn: psycopg.Connection[Any], actor: Actor, data: DistrictCreate
) -> DistrictPublic:
    actor.require("districts", "write")
    try:
        row = fetch_one(
            conn,
            "INSERT INTO districts (name, timezone) VALUES (%s, %s) RETURNING id, name, timezone",
            (data.name, data.timezone),
        )
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"district {data.name!r} already exists") from None
    assert row is not None
    audit.record(conn, actor, "district.create", "district", row["id"], {"name": data.name})
    return _public(conn, row)


def create_community(
    conn: psycopg.Connection[Any], actor: Actor, district_id: int, data: CommunityCreate
) -> CommunityPublic:
    actor.require("districts", "write")
    get_district(conn, actor, district_id)
    try:
        row = fetch_one(
            conn,
            "INSERT INTO communities (district_id, name) VALUES (%s, %s) RETURNING id, name",
            (district_id, data.name),
        )
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"community {data.name!r} already exists in this district") from None
    assert row is not None
    audit.record(
        conn, actor, "community.create", "community", row["id"], {"district_id": district_id}
    )
    return CommunityPublic(**row)


def find_district_id(conn: psycopg.Connection[Any], name: str) -> int:
    row = fetch_one(conn, "SELECT id FROM districts WHERE name = %s", (name,))
    if row is None:
        raise NotFound(f"district {name!r} not found")
    return int(row["id"])


def _public(conn: psycopg.Connection[Any], row: dict[str, Any]) -> DistrictPublic:
    communities = fetch_all(
        conn, "SELECT id, name FROM communities WHERE district_id = %s ORDER BY id", (row["id"],)
    )
    return DistrictPublic(**row, communities=[CommunityPublic(**c) for c in communities])
