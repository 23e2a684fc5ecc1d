"""What people do to an alert: acknowledge ("I am handling it"), confirm they are on
site, resolve it with an outcome. Acknowledgements arrive from the app and API, from an
SMS reply, or from keypad 1 in a voice call (`alerting.inbound` decides which alert a
reply or key press answers); they all end here.

    open ─▶ notified ─▶ acknowledged ─▶ on_site ─▶ resolved
                 └───────────┴─────────────┴──────────▲ (resolve from any open state)
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from alerting import store
from alerting.escalation import on_site_deadline
from alerting.rules import RULES_BY_NAME
from core.vocabulary import UNACKNOWLEDGED, AlertStatus, Outcome, Severity


class LifecycleError(Exception):
    """An action the alert's state does not allow; the API answers 409."""


@dataclass(frozen=True)
class Changed:
    alert_id: int
    status: str
    changed: bool  # False: it was already so (a second ack is not an error)


def acknowledge(
    conn: psycopg.Connection[Any],
    alert_id: int,
    actor: str,
    now: datetime,
    via: str,
    **evidence: Any,
) -> Changed:
    """`evidence` goes into the timeline entry: for a provider's request the channel, the
    provider and its message id, so the record says what acknowledged, not only who."""
    alert = _locked(conn, alert_id)
    if alert["status"] not in UNACKNOWLEDGED:
        if alert["status"] == AlertStatus.RESOLVED:
            raise LifecycleError(f"alert {alert_id} is already resolved")
        return Changed(alert_id, alert["status"], False)
    rule = RULES_BY_NAME[alert["rule"]]
    settings = store.elder_settings(conn, alert["elder_id"])
    deadline = on_site_deadline(rule, Severity(alert["severity"]), settings, now)
    store.update_alert(
        conn,
        alert_id,
        status=AlertStatus.ACKNOWLEDGED,
        acknowledged_at=now,
        acknowledged_by=actor,
        next_due_at=deadline,
        due_reason="on_site_deadline" if deadline else None,
    )
    cancelled = store.cancel_pending(conn, alert_id, now)
    store.timeline(
        conn,
        alert_id,
        now,
        "acknowledged",
        actor,
        via=via,
        **evidence,
        on_site_due=deadline.isoformat() if deadline else None,
        cancelled_notifications=cancelled,
    )
    return Changed(alert_id, AlertStatus.ACKNOWLEDGED, True)


def confirm_on_site(
    conn: psycopg.Connection[Any], alert_id: int, actor: str, now: datetime
) -> Changed:
    alert = _locked(conn, alert_id)
    if alert["status"] == AlertStatus.ON_SITE:
        return Changed(alert_id, AlertStatus.ON_SITE, False)
    if alert["status"] == AlertStatus.RESOLVED:
        raise LifecycleError(f"alert {alert_id} is already resolved")
    changes: dict[str, Any] = {
        "status": AlertStatus.ON_SITE,
        "on_site_at": now,
        "on_site_by": actor,
        "next_due_at": None,
        "due_reason": None,
    }
    if alert["acknowledged_at"] is None:  # arriving is the strongest acknowledgement
        changes |= {"acknowledged_at": now, "acknowledged_by": actor}
    store.update_alert(conn, alert_id, **changes)
    store.cancel_pending(conn, alert_id, now)
    store.timeline(conn, alert_id, now, "on_site", actor)
    return Changed(alert_id, AlertStatus.ON_SITE, True)


def resolve(
    conn: psycopg.Connection[Any],
    alert_id: int,
    actor: str,
    outcome: Outcome,
    note: str,
    now: datetime,
) -> Changed:
    alert = _locked(conn, alert_id)
    if alert["status"] == AlertStatus.RESOLVED:
        raise LifecycleError(f"alert {alert_id} is already resolved")
    store.update_alert(
        conn,
        alert_id,
        status=AlertStatus.RESOLVED,
        resolved_at=now,
        resolved_by=actor,
        outcome=outcome.value,
        note=note,
        next_due_at=None,
        due_reason=None,
        acknowledged_at=alert["acknowledged_at"] or now,
        acknowledged_by=alert["acknowledged_by"] or actor,
    )
    store.cancel_pending(conn, alert_id, now)
    store.timeline(conn, alert_id, now, "resolved", actor, outcome=outcome.value, note=note)
    return Changed(alert_id, AlertStatus.RESOLVED, True)


def _locked(conn: psycopg.Connection[Any], alert_id: int) -> store.Row:
    alert = store.lock_alert(conn, alert_id)
    if alert is None:
        raise LookupError(f"alert {alert_id} not found")
    return alert
