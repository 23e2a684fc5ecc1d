"""The audit log: every change to people, devices, policies and alerts, with who and when.

Written in the same transaction as the change it describes, so the log never claims a
change that was rolled back, nor misses one that was committed.
"""

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from device_registry.access import Actor
from device_registry.db import fetch_all


def record(
    conn: psycopg.Connection[Any],
    actor: Actor,
    action: str,
    entity: str,
    entity_id: object,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO audit_log (user_id, actor, action, entity, entity_id, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (actor.user_id, actor.username, action, entity, str(entity_id), Jsonb(detail or {})),
    )


def list_entries(
    conn: psycopg.Connection[Any],
    actor: Actor,
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    actor.require("audit", "read")
    return fetch_all(
        conn,
        "SELECT id, at, user_id, actor, action, entity, entity_id, detail FROM audit_log"
        " WHERE (%(entity)s::text IS NULL OR entity = %(entity)s)"
        " AND (%(entity_id)s::text IS NULL OR entity_id = %(entity_id)s)"
        " ORDER BY id DESC LIMIT %(limit)s",
        {"entity": entity, "entity_id": entity_id, "limit": limit},
    )
