"""Escalation policies: ordered levels (who, by which channels, for how long), a district
default per severity and per-elder overrides. `effective_policy` says which one applies."""

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.errors import Conflict, NotFound
from core.vocabulary import Severity
from device_registry import audit, scope
from device_registry.access import Actor
from device_registry.db import Row, fetch_all, fetch_one
from device_registry.schemas import PolicyBase, PolicyCreate, PolicyPublic

POLICY_SELECT = """
SELECT p.id, p.name, p.severity, p.district_id, p.elder_id, p.levels, p.repeat_interval_s,
       COALESCE(p.district_id, c.district_id) AS scope_district
FROM escalation_policies p
LEFT JOIN elders e ON e.id = p.elder_id
LEFT JOIN communities c ON c.id = e.community_id
"""


def list_policies(conn: psycopg.Connection[Any], actor: Actor) -> list[PolicyPublic]:
    actor.require("policies", "read")
    condition, params = actor.elder_filter("elder_id", "scope_district")
    rows = fetch_all(
        conn, f"SELECT * FROM ({POLICY_SELECT}) p WHERE {condition} ORDER BY id", params
    )
    return [PolicyPublic(**row) for row in rows]


def get_policy(conn: psycopg.Connection[Any], actor: Actor, policy_id: int) -> PolicyPublic:
    actor.require("policies", "read")
    return PolicyPublic(**_visible(conn, actor, policy_id))


def create_policy(conn: psycopg.Connection[Any], actor: Actor, data: PolicyCreate) -> PolicyPublic:
    actor.require("policies", "write")
    scope.check_body(conn, actor, data)
    try:
        with conn.transaction():
            row = fetch_one(
                conn,
                "INSERT INTO escalation_policies (name, severity, district_id, elder_id, levels,"
                " repeat_interval_s) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    data.name,
                    data.severity,
                    data.district_id,
                    data.elder_id,
                    _levels(data),
                    data.repeat_interval_s,
                ),
            )
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"a {data.severity} policy already exists for this scope") from None
    assert row is not None
    audit.record(conn, actor, "policy.create", "policy", row["id"], {"severity": data.severity})
    return get_policy(conn, actor, row["id"])


def replace_policy(
    conn: psycopg.Connection[Any], actor: Actor, policy_id: int, data: PolicyBase
) -> PolicyPublic:
    actor.require("policies", "write")
    _visible(conn, actor, policy_id)
    scope.check_body(conn, actor, data)
    conn.execute(
        "UPDATE escalation_policies SET name = %s, levels = %s, repeat_interval_s = %s,"
        " updated_at = now() WHERE id = %s",
        (data.name, _levels(data), data.repeat_interval_s, policy_id),
    )
    audit.record(conn, actor, "policy.update", "policy", policy_id)
    return get_policy(conn, actor, policy_id)


def delete_policy(conn: psycopg.Connection[Any], actor: Actor, policy_id: int) -> None:
    actor.require("policies", "write")
    _visible(conn, actor, policy_id)
    conn.execute("DELETE FROM escalation_policies WHERE id = %s", (policy_id,))
    audit.record(conn, actor, "policy.delete", "policy", policy_id)


def effective_policy(
    conn: psycopg.Connection[Any], elder_id: int, severity: Severity
) -> PolicyPublic | None:
    """The elder's own policy for this severity, else their district's default."""
    row = fetch_one(
        conn,
        f"{POLICY_SELECT} WHERE p.severity = %s AND (p.elder_id = %s OR p.district_id ="
        " (SELECT c2.district_id FROM elders e2 JOIN communities c2 ON c2.id = e2.community_id"
        "  WHERE e2.id = %s)) ORDER BY p.elder_id IS NULL LIMIT 1",
        (severity, elder_id, elder_id),
    )
    return None if row is None else PolicyPublic(**row)


def _levels(data: PolicyBase) -> Jsonb:
    return Jsonb([level.model_dump(mode="json", exclude_none=True) for level in data.levels])


def _visible(conn: psycopg.Connection[Any], actor: Actor, policy_id: int) -> Row:
    condition, params = actor.elder_filter("elder_id", "scope_district")
    row = fetch_one(
        conn,
        f"SELECT * FROM ({POLICY_SELECT}) p WHERE id = %s AND {condition}",
        [policy_id, *params],
    )
    if row is None:
        raise NotFound(f"policy {policy_id} not found")
    return row
