"""What people do to an alert: acknowledge ("I am handling it"), confirm they are on
site, resolve it with an outcome. Acknowledgements arrive from the app and API, from an
SMS reply, or from keypad 1 in a voice call; they all end here.

    open ─▶ notified ─▶ acknowledged ─▶ on_site ─▶ resolved
                 └───────────┴─────────────┴──────────▲ (resolve from any open state)
"""

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import psycopg

from alerting import store
from alerting.escalation import on_site_deadline
from alerting.rules import RULES_BY_NAME, Severity

# Replies that mean "I have it", compared after NFKC (full-width → ASCII) and casefold.
ACK_WORDS: Final = frozenset({"1", "收到", "ok", "好", "好的", "确认", "yes", "y"})
UNACKNOWLEDGED: Final = ("open", "notified")


class Outcome(StrEnum):
    HANDLED = "handled"
    FALSE_ALARM = "false_alarm"
    HOSPITAL = "hospital"
    NO_ACTION_NEEDED = "no_action_needed"
    DEVICE_FIXED = "device_fixed"
    OTHER = "other"


class LifecycleError(Exception):
    """An action the alert's state does not allow; the API answers 409."""


@dataclass(frozen=True)
class Changed:
    alert_id: int
    status: str
    changed: bool  # False: it was already so (a second ack is not an error)


def acknowledge(
    conn: psycopg.Connection[Any], alert_id: int, actor: str, now: datetime, via: str
) -> Changed:
    alert = _locked(conn, alert_id)
    if alert["status"] not in UNACKNOWLEDGED:
        if alert["status"] == "resolved":
            raise LifecycleError(f"alert {alert_id} is already resolved")
        return Changed(alert_id, alert["status"], False)
    rule = RULES_BY_NAME[alert["rule"]]
    settings = store.elder_settings(conn, alert["elder_id"])
    deadline = on_site_deadline(rule, Severity(alert["severity"]), settings, now)
    store.update_alert(
        conn,
        alert_id,
        status="acknowledged",
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
        on_site_due=deadline.isoformat() if deadline else None,
        cancelled_notifications=cancelled,
    )
    return Changed(alert_id, "acknowledged", True)


def confirm_on_site(
    conn: psycopg.Connection[Any], alert_id: int, actor: str, now: datetime
) -> Changed:
    alert = _locked(conn, alert_id)
    if alert["status"] == "on_site":
        return Changed(alert_id, "on_site", False)
    if alert["status"] == "resolved":
        raise LifecycleError(f"alert {alert_id} is already resolved")
    changes: dict[str, Any] = {
        "status": "on_site",
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
    return Changed(alert_id, "on_site", True)


def resolve(
    conn: psycopg.Connection[Any],
    alert_id: int,
    actor: str,
    outcome: Outcome,
    note: str,
    now: datetime,
) -> Changed:
    alert = _locked(conn, alert_id)
    if alert["status"] == "resolved":
        raise LifecycleError(f"alert {alert_id} is already resolved")
    store.update_alert(
        conn,
        alert_id,
        status="resolved",
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
    return Changed(alert_id, "resolved", True)


def is_ack_reply(body: str) -> bool:
    return unicodedata.normalize("NFKC", body).strip().casefold() in ACK_WORDS


def acknowledge_by_reply(
    conn: psycopg.Connection[Any], from_number: str, body: str, now: datetime
) -> Changed | None:
    """An SMS reply acknowledges the sender's latest unacknowledged alert; None if the
    text is not an acknowledgement or the number has nothing to acknowledge."""
    if not is_ack_reply(body):
        return None
    row = store.fetch_one(
        conn,
        "SELECT n.alert_id, c.name FROM notifications n JOIN alerts a ON a.id = n.alert_id"
        " LEFT JOIN contacts c ON c.id = n.contact_id"
        " WHERE n.to_address = %s AND n.channel = 'sms' AND a.status IN ('open', 'notified')"
        " ORDER BY n.created_at DESC LIMIT 1",
        (from_number,),
    )
    if row is None:
        return None
    return acknowledge(
        conn, row["alert_id"], _contact_actor(row["name"], from_number), now, "sms reply"
    )


def acknowledge_by_keypad(
    conn: psycopg.Connection[Any], notification_id: int, digits: str, now: datetime
) -> Changed | None:
    if digits.strip() != "1":
        return None
    row = store.fetch_one(
        conn,
        "SELECT n.alert_id, n.to_address, c.name FROM notifications n"
        " LEFT JOIN contacts c ON c.id = n.contact_id WHERE n.id = %s",
        (notification_id,),
    )
    if row is None:
        return None
    return acknowledge(
        conn, row["alert_id"], _contact_actor(row["name"], row["to_address"]), now, "keypad"
    )


def _contact_actor(name: str | None, number: str) -> str:
    masked = f"{number[:-8]}****{number[-4:]}" if len(number) >= 11 else "****"
    return f"contact:{name or '?'} ({masked})"


def _locked(conn: psycopg.Connection[Any], alert_id: int) -> store.Row:
    alert = store.lock_alert(conn, alert_id)
    if alert is None:
        raise LookupError(f"alert {alert_id} not found")
    return alert
