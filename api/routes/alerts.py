"""Alerts: list and detail (timeline and notifications), and what people do to them —
acknowledge, confirm being on site, resolve with an outcome.

Who sees an alert is decided once, by `access.alert_scope`: the actor's elders or districts
(`Actor.elder_filter`) and, from the PERMISSIONS table, which kinds of alert their role
reads or acts on — real ones ("alerts") or installers' test ones ("test_alerts"). An
alert outside that answers 404; a visible alert the role may not act on, 403.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Final

import psycopg
from fastapi import APIRouter, Query

from alerting import lifecycle
from alerting.rules import RULES_BY_NAME
from api.deps import ClockDep, CurrentActor, DbDep
from api.schemas_alerts import (
    ACTIVE,
    AlertDetail,
    AlertPublic,
    AlertResolve,
    NotificationPublic,
    StatusFilter,
    TimelineEntry,
)
from api.views import PersonalDataRoute
from core.errors import Conflict, InvalidRequest, NotFound
from core.inputs import Offset, QueryText, RowId
from core.vocabulary import Severity
from device_registry import audit
from device_registry.access import ALERT_RESOURCES, Actor, alert_scope
from device_registry.db import fetch_all

router = APIRouter(prefix="/alerts", tags=["alerts"], route_class=PersonalDataRoute)

ALERT_SELECT = """
SELECT a.id, a.elder_id, e.name AS elder_name, h.address, e.community_id, c.district_id,
       di.name AS district_name, a.device_id, dv.device_type, r.name AS room,
       a.rule, a.severity, a.status, a.test, a.trigger_count,
       n.notification_count, n.delivered_count, n.failed_count, a.level,
       a.opened_at, a.triggered_at, a.last_triggered_at, a.condition_cleared_at,
       a.acknowledged_at, a.acknowledged_by, a.on_site_at, a.on_site_by,
       a.resolved_at, a.resolved_by, a.outcome, a.note, a.next_due_at
FROM alerts a
LEFT JOIN elders e ON e.id = a.elder_id
LEFT JOIN homes h ON h.elder_id = e.id
LEFT JOIN communities c ON c.id = e.community_id
LEFT JOIN districts di ON di.id = c.district_id
LEFT JOIN devices dv ON dv.device_id = a.device_id
LEFT JOIN rooms r ON r.id = dv.room_id
CROSS JOIN LATERAL (
    SELECT count(*) AS notification_count,
           count(*) FILTER (WHERE status = 'delivered') AS delivered_count,
           count(*) FILTER (WHERE status = 'failed') AS failed_count
    FROM notifications WHERE alert_id = a.id
) n
"""

# Query parameter → condition on the alert; the value is its one parameter.
FILTERS: Final = {
    "severity": "a.severity = %s",
    "district_id": "c.district_id = %s",
    "elder_id": "a.elder_id = %s",
    "rule": "a.rule = %s",
    "since": "a.opened_at >= %s",
    "until": "a.opened_at < %s",
    "test": "a.test = %s",
}
STATUS_CONDITION: Final = {ACTIVE: "a.status <> 'resolved'"}
# Whoever looks at what is still open needs the most urgent first.
SEVERITY_ORDER: Final = [s.value for s in Severity]


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
    scope, params = alert_scope(actor)
    conditions = [scope]
    for name, value in filters.items():
        if value is not None:
            conditions.append(FILTERS[name])
            params.append(value)
    if status is not None:
        conditions.append(STATUS_CONDITION.get(status, "a.status = %s"))
        if status not in STATUS_CONDITION:
            params.append(str(status))
    if status == ACTIVE:
        order = "array_position(%s::text[], a.severity), a.opened_at DESC, a.id DESC"
        order_params: list[object] = [SEVERITY_ORDER]
    else:
        order, order_params = "a.opened_at DESC, a.id DESC", []
    rows = fetch_all(
        conn,
        f"{ALERT_SELECT} WHERE {' AND '.join(conditions)} ORDER BY {order} LIMIT %s OFFSET %s",
        [*params, *order_params, limit, offset],
    )
    return [AlertPublic(**row) for row in rows]


def visible_alerts(
    conn: psycopg.Connection[Any], actor: Actor, alert_ids: list[int]
) -> list[AlertPublic]:
    """The alerts among `alert_ids` this actor sees (the live stream asks this)."""
    scope, params = alert_scope(actor)
    rows = fetch_all(conn, f"{ALERT_SELECT} WHERE a.id = ANY(%s) AND {scope}", [alert_ids, *params])
    return [AlertPublic(**row) for row in rows]


def get_alert(conn: psycopg.Connection[Any], actor: Actor, alert_id: int) -> AlertPublic:
    found = visible_alerts(conn, actor, [alert_id])
    if not found:
        raise NotFound(f"alert {alert_id} not found")
    return found[0]


def alert_detail(conn: psycopg.Connection[Any], actor: Actor, alert_id: int) -> AlertDetail:
    alert = get_alert(conn, actor, alert_id)
    timeline = [
        TimelineEntry(**row)
        for row in fetch_all(
            conn,
            "SELECT at, kind, actor, detail FROM alert_timeline WHERE alert_id = %s ORDER BY id",
            (alert_id,),
        )
    ]
    notifications = [
        NotificationPublic(**row, destination=row["to_address"])
        for row in fetch_all(
            conn,
            "SELECT n.*, c.name AS contact_name FROM notifications n"
            " LEFT JOIN contacts c ON c.id = n.contact_id WHERE n.alert_id = %s ORDER BY n.id",
            (alert_id,),
        )
    ]
    return AlertDetail(**alert.model_dump(), timeline=timeline, notifications=notifications)


Change = Callable[[str], lifecycle.Changed]


def act(
    conn: psycopg.Connection[Any],
    actor: Actor,
    alert_id: int,
    action: str,
    change: Change,
    **detail: object,
) -> AlertPublic:
    """Run one lifecycle change as `user:<username>`, audited, and answer the alert."""
    alert = get_alert(conn, actor, alert_id)
    actor.require(ALERT_RESOURCES[alert.test], "act")
    try:
        changed = change(f"user:{actor.username}")
    except lifecycle.LifecycleError as exc:
        raise Conflict(f"{exc}: it cannot be changed any more") from None
    # A repeated action is audited too: the log says who tried what, and when.
    audit.record(
        conn,
        actor,
        f"alert.{action}",
        "alert",
        alert_id,
        {"status": changed.status, "changed": changed.changed, **detail},
    )
    return get_alert(conn, actor, alert_id)


# --- routes ----------------------------------------------------------------------------


@router.get(
    "",
    summary="Alerts of the elders you look after",
    description=(
        "Newest first; with `status=active` (everything not resolved) the critical ones "
        "come first. Installers see only test alerts, family members only real ones.\n\n"
        "An alert moves `open` → `notified` → `acknowledged` → `on_site` → `resolved`. It "
        "stays `open` only for the moment before its first notification goes out, so "
        "`status=open` is almost always empty: to list the alerts that still need someone, "
        "ask for `status=active`."
    ),
)
def read_alerts(
    db: DbDep,
    actor: CurrentActor,
    status: Annotated[
        StatusFilter | None,
        Query(
            description="one state, or `active` for every state but `resolved` (what still "
            "needs someone); `open` is a passing state, see above"
        ),
    ] = None,
    severity: Severity | None = None,
    district_id: RowId | None = None,
    elder_id: RowId | None = None,
    rule: QueryText | None = None,
    test: bool | None = None,
    since: Annotated[datetime | None, Query(description="opened at or after")] = None,
    until: Annotated[datetime | None, Query(description="opened before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[AlertPublic]:
    with db.transaction() as conn:
        return list_alerts(
            conn,
            actor,
            status=status,
            limit=limit,
            offset=offset,
            severity=severity,
            district_id=district_id,
            elder_id=elder_id,
            rule=rule,
            test=test,
            since=since,
            until=until,
        )


@router.get("/{alert_id}", summary="One alert with its timeline and notifications")
def read_alert(db: DbDep, actor: CurrentActor, alert_id: RowId) -> AlertDetail:
    with db.transaction() as conn:
        return alert_detail(conn, actor, alert_id)


@router.post(
    "/{alert_id}/ack",
    summary="Acknowledge: I am handling it",
    description=(
        "Stops the escalation and starts the on-site deadline (30 min for critical alerts). "
        "Acknowledging twice is harmless; a resolved alert answers 409."
    ),
)
def acknowledge(db: DbDep, actor: CurrentActor, clock: ClockDep, alert_id: RowId) -> AlertPublic:
    with db.transaction() as conn:
        return act(
            conn,
            actor,
            alert_id,
            "acknowledge",
            lambda who: lifecycle.acknowledge(conn, alert_id, who, clock(), "api"),
        )


@router.post(
    "/{alert_id}/on-site",
    summary="Confirm you are with the elder",
    description="Also acknowledges an alert nobody acknowledged; a resolved alert answers 409.",
)
def on_site(db: DbDep, actor: CurrentActor, clock: ClockDep, alert_id: RowId) -> AlertPublic:
    with db.transaction() as conn:
        return act(
            conn,
            actor,
            alert_id,
            "on_site",
            lambda who: lifecycle.confirm_on_site(conn, alert_id, who, clock()),
        )


@router.post(
    "/{alert_id}/resolve",
    summary="Close the alert with an outcome",
    description="Cancels pending notifications. A resolved alert answers 409.",
)
def resolve(
    db: DbDep, actor: CurrentActor, clock: ClockDep, alert_id: RowId, body: AlertResolve
) -> AlertPublic:
    with db.transaction() as conn:
        return act(
            conn,
            actor,
            alert_id,
            "resolve",
            lambda who: lifecycle.resolve(conn, alert_id, who, body.outcome, body.note, clock()),
            outcome=body.outcome.value,
            note=body.note,
        )
