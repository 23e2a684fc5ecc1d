"""Acknowledgements that arrive from a provider — an SMS reply, a key pressed in a call —
each answering exactly one alert, once (safety invariant 2).

- Every request is first recorded by the provider's own id (`inbound_receipts`, unique
  per provider) in the caller's transaction, the one that also acknowledges: a replay
  conflicts on that key and changes nothing (`AckOutcome.DUPLICATE`).
- An SMS reply acknowledges only an alert that was sent to its number (an SMS or a call
  the provider took) and is still unacknowledged. Without a code it must be the only
  such alert: with several, it acknowledges none and lists them (`AMBIGUOUS`); with a
  code (`1#23`) it acknowledges that alert or answers why not. Never "the newest".
- A key press is bound to its call: the notification in the callback URL, and the call
  the provider placed for it (`CallSid` = the notification's provider id).

The reply grammar and the answers' wording live in `alerting.templates.replies`.
"""

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg

from alerting import lifecycle, store
from alerting.notifiers.base import Locale
from alerting.rules import RULES_BY_NAME
from alerting.templates import KINDS, AckOutcome, AlertKind, Choice
from core.vocabulary import UNACKNOWLEDGED, AlertStatus, NotificationStatus

log = logging.getLogger(__name__)

# Replies that mean "I have it", compared after NFKC (full-width → ASCII) and casefold.
ACK_WORDS: Final = frozenset({"1", "收到", "ok", "好", "好的", "确认", "yes", "y"})
# A word, then the alert's code after "#" or a space: "1#23", "收到 #23", "ok 23". At
# most 18 digits, so any code fits a bigint.
_WITH_CODE: Final = re.compile(r"^(?P<word>.+?)(?:\s*#\s*|\s+)(?P<code>\d{1,18})$")
ACK_KEY: Final = "1"
# A notification the provider took: its text or call reached (or is reaching) the number.
REACHED: Final = (NotificationStatus.QUEUED, NotificationStatus.SENT, NotificationStatus.DELIVERED)
# Alert status → why it cannot be acknowledged now.
NOT_OPEN: Final = {
    AlertStatus.ACKNOWLEDGED: AckOutcome.ALREADY_ACKNOWLEDGED,
    AlertStatus.ON_SITE: AckOutcome.ALREADY_ACKNOWLEDGED,
    AlertStatus.RESOLVED: AckOutcome.CLOSED,
}


@dataclass(frozen=True)
class Reply:
    code: int | None  # the alert the reply names, if it names one


def parse_reply(body: str) -> Reply | None:
    """The acknowledgement a reply means, or None for anything else."""
    text = unicodedata.normalize("NFKC", body).strip().casefold()
    if text in ACK_WORDS:
        return Reply(None)
    match = _WITH_CODE.match(text)
    if match is not None and match["word"].strip() in ACK_WORDS:
        return Reply(int(match["code"]))
    return None


@dataclass(frozen=True)
class Inbound:
    """One provider request: whose id, from which number."""

    provider: str
    message_id: str  # Twilio MessageSid; for a key press CallSid:Digits
    sender: str


@dataclass(frozen=True)
class Answer:
    outcome: AckOutcome
    locale: Locale | None  # None: a number we never contacted, which gets no SMS
    alert_id: int | None = None
    elder: str = ""
    choices: tuple[Choice, ...] = ()
    changed: lifecycle.Changed | None = None  # set when this request acknowledged


# --- receipts ------------------------------------------------------------------------


def claim(conn: psycopg.Connection[Any], inbound: Inbound, kind: str, now: datetime) -> int | None:
    """Record the request by its provider id; None when it was received before. A
    concurrent copy waits here until the first commits, then gets None too."""
    row = store.fetch_one(
        conn,
        "INSERT INTO inbound_receipts (provider, message_id, kind, sender, received_at,"
        " outcome) VALUES (%s, %s, %s, %s, %s, 'received')"
        " ON CONFLICT (provider, message_id) DO NOTHING RETURNING id",
        (inbound.provider, inbound.message_id, kind, inbound.sender, now),
    )
    return None if row is None else int(row["id"])


def _settle(
    conn: psycopg.Connection[Any],
    receipt_id: int,
    answer: Answer,
    notification_id: int | None = None,
) -> Answer:
    # A reply may name a code no alert has: it is kept as NULL, not refused by the key.
    conn.execute(
        "UPDATE inbound_receipts SET outcome = %s,"
        " alert_id = (SELECT id FROM alerts WHERE id = %s), notification_id = %s"
        " WHERE id = %s",
        (answer.outcome.value, answer.alert_id, notification_id, receipt_id),
    )
    return answer


# --- SMS replies ---------------------------------------------------------------------

SENT_TO_SQL = """
SELECT DISTINCT ON (a.id) a.id AS alert_id, a.status, a.rule, n.id AS notification_id,
       n.locale, c.name AS contact_name, e.name AS elder
FROM notifications n
JOIN alerts a ON a.id = n.alert_id
LEFT JOIN contacts c ON c.id = n.contact_id
LEFT JOIN elders e ON e.id = a.elder_id
WHERE n.to_address = %(sender)s AND n.channel IN ('sms', 'voice')
  AND n.status = ANY(%(reached)s) AND {which}
ORDER BY a.id, n.id DESC
"""
OPEN_SENT_TO = SENT_TO_SQL.format(which="a.status = ANY(%(open)s)")
ONE_SENT_TO = SENT_TO_SQL.format(which="a.id = %(code)s")


def sms_reply(conn: psycopg.Connection[Any], inbound: Inbound, body: str, now: datetime) -> Answer:
    """Handle one SMS reply in the caller's transaction."""
    receipt = claim(conn, inbound, "sms_reply", now)
    locale = sender_locale(conn, inbound.sender)
    if receipt is None:
        return Answer(AckOutcome.DUPLICATE, locale)
    reply = parse_reply(body)
    if reply is None:
        return _settle(conn, receipt, Answer(AckOutcome.NOT_AN_ACK, locale))
    params = {"sender": inbound.sender, "reached": list(REACHED), "open": list(UNACKNOWLEDGED)}
    if reply.code is None:
        rows = store.fetch_all(conn, OPEN_SENT_TO, params)
        if not rows:
            return _settle(conn, receipt, Answer(AckOutcome.NOTHING_OPEN, locale))
        if len(rows) > 1:
            choices = tuple(_choice(r) for r in rows)
            return _settle(conn, receipt, Answer(AckOutcome.AMBIGUOUS, locale, choices=choices))
        row = rows[0]
    else:
        found = store.fetch_one(conn, ONE_SENT_TO, params | {"code": reply.code})
        if found is None:
            answer = Answer(AckOutcome.NOT_NOTIFIED, locale, reply.code)
            return _settle(conn, receipt, answer)
        row = found
    answer = _acknowledge(conn, row, inbound, "sms reply", now)
    return _settle(conn, receipt, answer, row["notification_id"])


def sender_locale(conn: psycopg.Connection[Any], sender: str) -> Locale | None:
    """The language we speak to this number: that of our last text or call to it, else
    its contact's; None for a number we never contacted and do not know."""
    row = store.fetch_one(
        conn,
        "SELECT locale FROM (SELECT locale, 0 AS rank, created_at FROM notifications"
        "  WHERE to_address = %s AND channel IN ('sms', 'voice')"
        " UNION ALL SELECT locale, 1, created_at FROM contacts WHERE phone = %s) known"
        " ORDER BY rank, created_at DESC LIMIT 1",
        (sender, sender),
    )
    return None if row is None else as_locale(row["locale"])


def as_locale(value: object) -> Locale:
    return "en" if value == "en" else "zh-CN"


def _choice(row: store.Row) -> Choice:
    kind = AlertKind(RULES_BY_NAME[row["rule"]].kind)
    event = KINDS[(kind, as_locale(row["locale"]))].event
    return Choice(row["alert_id"], row["elder"] or "", event)


# --- key presses ---------------------------------------------------------------------


def keypad(
    conn: psycopg.Connection[Any], call: Inbound, notification: store.Row, now: datetime
) -> Answer:
    """Key 1 pressed in the call placed for `notification` (a voice notification row);
    `call.message_id` is the provider's call id. Handled in the caller's transaction."""
    locale = as_locale(notification["locale"])
    if notification["provider_id"] not in (None, call.message_id):
        # Refused before it is recorded, so it cannot use up the real press of that call.
        log.warning("a key press of another call reached notification %s", notification["id"])
        return Answer(AckOutcome.WRONG_CALL, locale, notification["alert_id"])
    inbound = Inbound(call.provider, f"{call.message_id}:{ACK_KEY}", call.sender)
    receipt = claim(conn, inbound, "keypad", now)
    if receipt is None:
        return Answer(AckOutcome.DUPLICATE, locale, notification["alert_id"])
    row = store.fetch_one(
        conn,
        "SELECT a.id AS alert_id, a.status, %s::bigint AS notification_id,"
        " c.name AS contact_name, e.name AS elder FROM alerts a"
        " LEFT JOIN contacts c ON c.id = %s LEFT JOIN elders e ON e.id = a.elder_id"
        " WHERE a.id = %s",
        (notification["id"], notification["contact_id"], notification["alert_id"]),
    )
    assert row is not None  # a notification's alert is deleted with it
    answer = _acknowledge(conn, row | {"locale": locale}, inbound, "keypad", now)
    return _settle(conn, receipt, answer, notification["id"])


# --- the acknowledgement -------------------------------------------------------------

CHANNEL_OF: Final = {"sms reply": "sms", "keypad": "voice"}


def _acknowledge(
    conn: psycopg.Connection[Any], row: store.Row, inbound: Inbound, via: str, now: datetime
) -> Answer:
    """Acknowledge the alert `row` names, if it is still unacknowledged (checked again
    under the alert's lock: it may have changed since it was read)."""
    alert_id, locale = int(row["alert_id"]), as_locale(row["locale"])
    elder = row["elder"] or ""
    if row["status"] in NOT_OPEN:
        return Answer(NOT_OPEN[row["status"]], locale, alert_id, elder)
    try:
        changed = lifecycle.acknowledge(
            conn,
            alert_id,
            contact_actor(row["contact_name"], inbound.sender),
            now,
            via,
            channel=CHANNEL_OF[via],
            provider=inbound.provider,
            provider_message_id=inbound.message_id,
            notification=row["notification_id"],
        )
    except lifecycle.LifecycleError:
        return Answer(AckOutcome.CLOSED, locale, alert_id, elder)
    if not changed.changed:
        return Answer(AckOutcome.ALREADY_ACKNOWLEDGED, locale, alert_id, elder)
    return Answer(AckOutcome.ACKNOWLEDGED, locale, alert_id, elder, changed=changed)


def contact_actor(name: str | None, number: str) -> str:
    """How a contact is named in the timeline and the audit log: name and masked number."""
    masked = f"{number[:-8]}****{number[-4:]}" if len(number) >= 11 else "****"
    return f"contact:{name or '?'} ({masked})"
