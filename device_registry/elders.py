"""Elders and their homes. Visibility follows the actor's districts or elders; how each
role sees the ID-card number, phone, health notes and address is the EXPOSURE table's
business (device_registry.personal), applied to every answer by the API."""

from typing import Any

import psycopg

from core.errors import InvalidRequest, NotFound
from device_registry import audit, scope
from device_registry.access import Actor
from device_registry.db import Row, fetch_all, fetch_one, set_clause
from device_registry.schemas import (
    ElderCreate,
    ElderPublic,
    ElderUpdate,
    HomePublic,
    RoomCreate,
    RoomPublic,
)

ELDER_SELECT = """
SELECT e.id, e.community_id, c.district_id, e.name, e.id_card, e.birth_year, e.phone,
       e.health_notes, e.presence, e.timezone,
       h.id AS home_id, h.address, h.access_notes
FROM elders e
JOIN communities c ON c.id = e.community_id
JOIN homes h ON h.elder_id = e.id
"""


def visible_elder(conn: psycopg.Connection[Any], actor: Actor, elder_id: int) -> Row:
    """The elder's row if the actor may see it; NotFound otherwise (never 'forbidden')."""
    condition, params = actor.elder_filter("e.id", "c.district_id")
    row = fetch_one(conn, f"{ELDER_SELECT} WHERE e.id = %s AND {condition}", [elder_id, *params])
    if row is None:
        raise NotFound(f"elder {elder_id} not found")
    return row


def elder_timezone(conn: psycopg.Connection[Any], elder_id: int | None) -> str | None:
    """The elder's stored time zone name; None when there is no such elder."""
    row = fetch_one(conn, "SELECT timezone FROM elders WHERE id = %s", (elder_id,))
    return None if row is None else str(row["timezone"])


def list_elders(conn: psycopg.Connection[Any], actor: Actor) -> list[ElderPublic]:
    actor.require("elders", "read")
    condition, params = actor.elder_filter("e.id", "c.district_id")
    rows = fetch_all(conn, f"{ELDER_SELECT} WHERE {condition} ORDER BY e.id", params)
    return [_public(conn, actor, row) for row in rows]


def get_elder(conn: psycopg.Connection[Any], actor: Actor, elder_id: int) -> ElderPublic:
    actor.require("elders", "read")
    return _public(conn, actor, visible_elder(conn, actor, elder_id))


def create_elder(conn: psycopg.Connection[Any], actor: Actor, data: ElderCreate) -> ElderPublic:
    actor.require("elders", "create")
    scope.check_body(conn, actor, data)
    row = fetch_one(
        conn,
        "INSERT INTO elders (community_id, name, id_card, birth_year, phone, health_notes,"
        " presence, timezone) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            data.community_id,
            data.name,
            data.id_card,
            data.birth_year,
            data.phone,
            data.health_notes,
            data.presence,
            data.timezone,
        ),
    )
    assert row is not None
    conn.execute(
        "INSERT INTO homes (elder_id, address, access_notes) VALUES (%s, %s, %s)",
        (row["id"], data.home.address, data.home.access_notes),
    )
    audit.record(conn, actor, "elder.create", "elder", row["id"], {"name": data.name})
    return _public(conn, actor, visible_elder(conn, actor, row["id"]))


def update_elder(
    conn: psycopg.Connection[Any], actor: Actor, elder_id: int, data: ElderUpdate
) -> ElderPublic:
    actor.require("elders", "update")
    visible_elder(conn, actor, elder_id)
    scope.check_body(conn, actor, data)
    changes = data.model_dump(exclude_unset=True, exclude={"home"})
    if changes:
        clause, params = set_clause(changes)
        conn.execute(
            f"UPDATE elders SET {clause}, updated_at = now() WHERE id = %s", [*params, elder_id]
        )
    if data.home is not None:
        conn.execute(
            "UPDATE homes SET address = %s, access_notes = %s WHERE elder_id = %s",
            (data.home.address, data.home.access_notes, elder_id),
        )
    audited = sorted(data.model_fields_set)
    audit.record(conn, actor, "elder.update", "elder", elder_id, {"fields": audited})
    return _public(conn, actor, visible_elder(conn, actor, elder_id))


def delete_elder(conn: psycopg.Connection[Any], actor: Actor, elder_id: int) -> None:
    actor.require("elders", "delete")
    visible_elder(conn, actor, elder_id)
    active = fetch_one(
        conn,
        "SELECT count(*) AS n FROM devices d JOIN homes h ON h.id = d.home_id"
        " WHERE h.elder_id = %s AND d.state <> 'decommissioned'",
        (elder_id,),
    )
    if active and active["n"]:
        raise InvalidRequest("decommission the elder's devices before deleting the elder")
    conn.execute(
        "UPDATE devices SET home_id = NULL, room_id = NULL WHERE home_id IN"
        " (SELECT id FROM homes WHERE elder_id = %s)",
        (elder_id,),
    )
    conn.execute("DELETE FROM elders WHERE id = %s", (elder_id,))
    audit.record(conn, actor, "elder.delete", "elder", elder_id)


def add_room(
    conn: psycopg.Connection[Any], actor: Actor, elder_id: int, data: RoomCreate
) -> RoomPublic:
    actor.require("devices", "update")
    home_id = visible_elder(conn, actor, elder_id)["home_id"]
    room_id = ensure_room(conn, home_id, data.name)
    audit.record(conn, actor, "room.create", "room", room_id, {"elder_id": elder_id})
    return RoomPublic(id=room_id, name=data.name)


def ensure_room(conn: psycopg.Connection[Any], home_id: int, name: str) -> int:
    row = fetch_one(
        conn,
        "INSERT INTO rooms (home_id, name) VALUES (%s, %s)"
        " ON CONFLICT (home_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
        (home_id, name),
    )
    assert row is not None
    return int(row["id"])


def _public(conn: psycopg.Connection[Any], actor: Actor, row: Row) -> ElderPublic:
    rooms = fetch_all(
        conn, "SELECT id, name FROM rooms WHERE home_id = %s ORDER BY id", (row["home_id"],)
    )
    return ElderPublic(
        id=row["id"],
        community_id=row["community_id"],
        district_id=row["district_id"],
        name=row["name"],
        id_card=row["id_card"],
        birth_year=row["birth_year"],
        phone=row["phone"],
        health_notes=row["health_notes"],
        presence=row["presence"],
        timezone=row["timezone"],
        home=HomePublic(
            id=row["home_id"],
            address=row["address"],
            access_notes=row["access_notes"],
            rooms=[RoomPublic(**room) for room in rooms],
        ),
    )
