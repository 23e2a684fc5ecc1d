"""Contacts: the people escalation calls. Family members belong to one elder, community
workers to a community, supervisors to a district; each is visible to whoever sees that."""

from typing import Any

import psycopg

from core.errors import NotFound
from device_registry import audit, scope
from device_registry.access import Actor
from device_registry.db import Row, fetch_all, fetch_one, set_clause
from device_registry.elders import visible_elder
from device_registry.schemas import ContactCreate, ContactPublic, ContactUpdate

CONTACT_SELECT = """
SELECT ct.id, ct.kind, ct.name, ct.phone, ct.locale, ct.elder_id, ct.community_id,
       ct.district_id, ct.relation, ct.priority, ct.user_id,
       COALESCE(ct.district_id, cc.district_id, ec.district_id) AS scope_district
FROM contacts ct
LEFT JOIN communities cc ON cc.id = ct.community_id
LEFT JOIN elders e ON e.id = ct.elder_id
LEFT JOIN communities ec ON ec.id = e.community_id
"""

# The order people are listed (and, by default, called) for one elder.
ESCALATION_ORDER = "CASE ct.kind WHEN 'community_worker' THEN 1 WHEN 'family' THEN 2 ELSE 3 END"


def list_contacts(
    conn: psycopg.Connection[Any], actor: Actor, elder_id: int | None = None
) -> list[ContactPublic]:
    actor.require("contacts", "read")
    if elder_id is not None:
        return [ContactPublic(**row) for row in contacts_of_elder(conn, actor, elder_id)]
    condition, params = actor.elder_filter("ct.elder_id", "scope_district")
    rows = fetch_all(
        conn, f"SELECT * FROM ({CONTACT_SELECT}) ct WHERE {condition} ORDER BY id", params
    )
    return [ContactPublic(**row) for row in rows]


def contacts_of_elder(conn: psycopg.Connection[Any], actor: Actor, elder_id: int) -> list[Row]:
    """Everyone who may be called for this elder: workers, family by priority, supervisors."""
    elder = visible_elder(conn, actor, elder_id)
    return fetch_all(
        conn,
        f"{CONTACT_SELECT} WHERE ct.elder_id = %s OR ct.community_id = %s OR ct.district_id = %s"
        f" ORDER BY {ESCALATION_ORDER}, ct.priority, ct.id",
        (elder_id, elder["community_id"], elder["district_id"]),
    )


def get_contact(conn: psycopg.Connection[Any], actor: Actor, contact_id: int) -> ContactPublic:
    actor.require("contacts", "read")
    return ContactPublic(**_visible(conn, actor, contact_id))


def create_contact(
    conn: psycopg.Connection[Any], actor: Actor, data: ContactCreate
) -> ContactPublic:
    actor.require("contacts", "write")
    scope.check_body(conn, actor, data)
    row = fetch_one(
        conn,
        "INSERT INTO contacts (kind, name, phone, locale, elder_id, community_id, district_id,"
        " relation, priority, user_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING id",
        (
            data.kind,
            data.name,
            data.phone,
            data.locale,
            data.elder_id,
            data.community_id,
            data.district_id,
            data.relation,
            data.priority,
            data.user_id,
        ),
    )
    assert row is not None
    audit.record(conn, actor, "contact.create", "contact", row["id"], {"kind": data.kind})
    return get_contact(conn, actor, row["id"])


def update_contact(
    conn: psycopg.Connection[Any], actor: Actor, contact_id: int, data: ContactUpdate
) -> ContactPublic:
    actor.require("contacts", "write")
    _visible(conn, actor, contact_id)
    scope.check_body(conn, actor, data)
    changes = data.model_dump(exclude_unset=True)
    if changes:
        clause, params = set_clause(changes)
        conn.execute(f"UPDATE contacts SET {clause} WHERE id = %s", [*params, contact_id])
    audit.record(conn, actor, "contact.update", "contact", contact_id, {"fields": sorted(changes)})
    return get_contact(conn, actor, contact_id)


def delete_contact(conn: psycopg.Connection[Any], actor: Actor, contact_id: int) -> None:
    actor.require("contacts", "write")
    _visible(conn, actor, contact_id)
    conn.execute("DELETE FROM contacts WHERE id = %s", (contact_id,))
    audit.record(conn, actor, "contact.delete", "contact", contact_id)


def _visible(conn: psycopg.Connection[Any], actor: Actor, contact_id: int) -> Row:
    condition, params = actor.elder_filter("ct.elder_id", "scope_district")
    row = fetch_one(
        conn,
        f"SELECT * FROM ({CONTACT_SELECT}) ct WHERE id = %s AND {condition}",
        [contact_id, *params],
    )
    if row is None:
        raise NotFound(f"contact {contact_id} not found")
    return row
