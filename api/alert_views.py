"""Alerts as an actor sees them: the scope from `access.alert_scope`, the rows from
`alerting.queries`, the response models of `api.schemas_alerts`. The alert routes and the
live stream both read alerts through here, so they can never disagree on who sees what."""

from typing import Any

import psycopg

from alerting import queries
from alerting.rules import RULES_BY_NAME
from api.schemas_alerts import (
    ACTIVE,
    AlertDetail,
    AlertPublic,
    NotificationPublic,
    StatusFilter,
    TimelineEntry,
)
from core.errors import InvalidRequest, NotFound
from core.vocabulary import AlertStatus
from device_registry.access import Actor, alert_scope


def list_alerts(
    conn: psycopg.Connection[Any],
    actor: Actor,
    *,
    status: StatusFilter | None = None,
    limit: int = 100,
    offset: int = 0,
    **filters: object,
) -> list[AlertPublic]:
    rule = filters.get("rule")
    if rule is not None and rule not in RULES_BY_NAME:
        raise InvalidRequest(f"unknown rule; one of {', '.join(RULES_BY_NAME)}", field="rule")
    rows = queries.find_alerts(
        conn,
        alert_scope(actor),
        filters=filters,
        status=status if isinstance(status, AlertStatus) else None,
        unresolved=status == ACTIVE,
        limit=limit,
        offset=offset,
    )
    return [AlertPublic(**row) for row in rows]


def visible_alerts(
    conn: psycopg.Connection[Any], actor: Actor, alert_ids: list[int]
) -> list[AlertPublic]:
    """The alerts among `alert_ids` this actor sees (the live stream asks this)."""
    return [AlertPublic(**row) for row in queries.alerts_by_id(conn, alert_scope(actor), alert_ids)]


def get_alert(conn: psycopg.Connection[Any], actor: Actor, alert_id: int) -> AlertPublic:
    found = visible_alerts(conn, actor, [alert_id])
    if not found:
        raise NotFound(f"alert {alert_id} not found")
    return found[0]


def alert_detail(conn: psycopg.Connection[Any], actor: Actor, alert_id: int) -> AlertDetail:
    alert = get_alert(conn, actor, alert_id)
    return AlertDetail(
        **alert.model_dump(),
        timeline=[TimelineEntry(**row) for row in queries.timeline(conn, alert_id)],
        notifications=[
            NotificationPublic(**row, destination=row["to_address"])
            for row in queries.notifications(conn, alert_id)
        ],
    )
