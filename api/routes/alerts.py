"""Alerts: list and detail (timeline and notifications), and what people do to them —
acknowledge, confirm being on site, resolve with an outcome.

Who sees an alert is decided once, by `access.alert_scope`: the actor's elders or districts
(`Actor.elder_filter`) and, from the PERMISSIONS table, which kinds of alert their role
reads or acts on — real ones ("alerts") or installers' test ones ("test_alerts"). An
alert outside that answers 404; a visible alert the role may not act on, 403.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Query

from alerting import lifecycle
from api.alert_views import alert_detail, get_alert, list_alerts
from api.deps import ClockDep, CurrentActor, DbDep
from api.schemas_alerts import AlertDetail, AlertPublic, AlertResolve, StatusFilter
from api.views import PersonalDataRoute
from core.errors import Conflict
from core.inputs import Offset, QueryText, RowId
from core.vocabulary import Severity
from device_registry import audit
from device_registry.access import ALERT_RESOURCES, Actor

router = APIRouter(prefix="/alerts", tags=["alerts"], route_class=PersonalDataRoute)


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
