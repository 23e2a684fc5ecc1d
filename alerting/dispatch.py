"""Sending: claim pending notifications, hand each to its notifier, record what happened.

The one place retries, backoff and fallback live (notifiers only say whether a failure
may pass). A row is claimed — status `sending` — and committed before the provider is
called, so two engines never send it twice. A failure that may pass is retried with
backoff; one that will not, or that used up its attempts, falls back: SMS to a voice call
to the same person, then the next person of the level, then the next level at once.

The database may go away between a send and its record. The rows claimed are still
sent, and their results kept in memory until the database answers again: left
`sending`, they would wait minutes for the stale-send recovery and be paged again.
"""

import logging
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg_pool import ConnectionPool

from alerting import metrics, store
from alerting.escalation import Step
from alerting.notifiers.base import DeliveryStatus, Message, Notifier, SendResult
from alerting.planner import Channels, contacts_for, plan_contact
from core.isolation import each_item
from core.vocabulary import UNACKNOWLEDGED, Channel

log = logging.getLogger(__name__)

DISPATCH_JOB: Final = "dispatch"
STALE_JOB: Final = "stale-sends"
MAX_ATTEMPTS: Final = 4
BACKOFF: Final = (timedelta(seconds=2), timedelta(seconds=10), timedelta(seconds=30))
STALE_SENDING: Final = timedelta(minutes=2)
FALLBACK_CHANNEL: Final = {Channel.SMS: Channel.VOICE}
ACTIVE_ALERT: Final = UNACKNOWLEDGED
PERSON_CHANNELS: Final = (Channel.SMS.value, Channel.VOICE.value)

NotifierKey = tuple[str, str]  # (channel, provider)


class Dispatcher:
    def __init__(
        self,
        pool: ConnectionPool,
        notifiers: Mapping[NotifierKey, Notifier],
        channels: Channels,
        clock: Callable[[], datetime],
    ) -> None:
        self.pool = pool
        self.notifiers = notifiers
        self.channels = channels
        self.clock = clock
        self._unrecorded: deque[tuple[store.Row, SendResult]] = deque()  # sent, not recorded

    def run_once(self, limit: int = 50) -> int:
        """Send what is due, each notification on its own (core.isolation); returns how
        many were attempted. Raises OperationalError while the database is away, keeping
        what it could not record."""
        self._record_sent()
        claimed = self._claim(limit)
        recording = [True]

        def deliver(row: store.Row) -> None:
            self._unrecorded.append((row, self._send(row)))
            if recording[0]:
                try:
                    self._record_sent()
                except psycopg.OperationalError:
                    recording[0] = False  # the rest are sent first, not each kept waiting

        each_item(DISPATCH_JOB, claimed, deliver, key=_notification)
        self._record_sent()
        return len(claimed)

    def _record_sent(self) -> None:
        """Record kept results, oldest first. One the database refuses for another
        reason than being away is logged, counted and dropped: its row stays `sending`
        and the stale-send recovery sends it again (core.isolation)."""
        while self._unrecorded:
            entry = self._unrecorded.popleft()
            try:
                each_item(
                    DISPATCH_JOB, [entry], self._record_alone, key=lambda e: _notification(e[0])
                )
            except psycopg.Error:
                self._unrecorded.appendleft(entry)
                raise

    def _record_alone(self, entry: tuple[store.Row, SendResult]) -> None:
        with self.pool.connection() as conn:
            self._record(conn, *entry)

    def recover_stale(self) -> int:
        """Rows left `sending` by an engine that died mid-send go out again: for an alarm
        a duplicate message is cheap, a missing one is not. Each row on its own."""
        now = self.clock()
        with self.pool.connection() as conn:
            stale = store.fetch_all(
                conn,
                "SELECT id FROM notifications WHERE status = 'sending' AND updated_at < %s"
                " ORDER BY id FOR UPDATE SKIP LOCKED",
                (now - STALE_SENDING,),
            )
            outcome = each_item(
                STALE_JOB,
                stale,
                lambda row: conn.execute(
                    "UPDATE notifications SET status = 'pending', next_attempt_at = %s,"
                    " error = 'engine stopped while sending; sent again' WHERE id = %s",
                    (now, row["id"]),
                ),
                key=_notification,
                conn=conn,
            )
            return len(outcome.done)

    def _claim(self, limit: int) -> list[store.Row]:
        now = self.clock()
        with self.pool.connection() as conn:
            claimed = store.fetch_all(
                conn,
                "UPDATE notifications n SET status = 'sending', attempts = attempts + 1,"
                " updated_at = %s WHERE id IN ("
                "  SELECT id FROM notifications WHERE status = 'pending'"
                "  AND next_attempt_at <= %s ORDER BY next_attempt_at, id"
                "  LIMIT %s FOR UPDATE SKIP LOCKED)"
                " RETURNING n.*",
                (now, now, limit),
            )
            metrics.PENDING_NOTIFICATIONS.set(_still_due(conn, now))
            return claimed

    def _send(self, row: store.Row) -> SendResult:
        notifier = self.notifiers.get((row["channel"], row["provider"]))
        if notifier is None:
            return SendResult.failure(str(row["provider"]), "no such notifier", retryable=False)
        try:
            return notifier.send(_message(row))
        except Exception as exc:  # a notifier bug must not stop the others
            log.exception("notifier %s failed on notification %s", row["provider"], row["id"])
            return SendResult.failure(str(row["provider"]), f"bug: {exc}", retryable=True)

    def _record(self, conn: psycopg.Connection[Any], row: store.Row, result: SendResult) -> None:
        now = self.clock()
        metrics.NOTIFICATIONS.labels(row["channel"], result.status.value).inc()
        if result.ok:
            # A status callback may have come first and moved it further: keep that.
            conn.execute(
                "UPDATE notifications SET provider_id = COALESCE(provider_id, %s),"
                " sent_at = %s, updated_at = %s, error = NULL,"
                " status = CASE WHEN status = 'sending' THEN %s ELSE status END WHERE id = %s",
                (result.provider_id, now, now, result.status.value, row["id"]),
            )
            store.timeline(
                conn,
                row["alert_id"],
                now,
                "sent",
                notification=row["id"],
                channel=row["channel"],
                to=row["to_address"],
            )
            return
        if result.retryable and row["attempts"] < MAX_ATTEMPTS:
            delay = BACKOFF[min(row["attempts"], len(BACKOFF)) - 1]
            conn.execute(
                "UPDATE notifications SET status = 'pending', next_attempt_at = %s,"
                " error = %s, updated_at = %s WHERE id = %s",
                (now + delay, result.error, now, row["id"]),
            )
            return
        mark_failed(conn, row, result.error or "failed", now, self.channels)


def _still_due(conn: psycopg.Connection[Any], now: datetime) -> int:
    row = conn.execute(
        "SELECT count(*) FROM notifications WHERE status = 'pending' AND next_attempt_at <= %s",
        (now,),
    ).fetchone()
    return int(row[0]) if row else 0


def _notification(row: store.Row) -> str:
    return f"notification {row['id']}"


def _message(row: store.Row) -> Message:
    return Message(
        notification_id=row["id"],
        channel=Channel(row["channel"]),
        to=row["to_address"],
        locale=row["locale"],
        text=row["body"],
        template=row["template"],
        alert_id=row["alert_id"],
        params=row["params"],
    )


def mark_failed(
    conn: psycopg.Connection[Any],
    row: store.Row,
    error: str,
    now: datetime,
    channels: Channels,
) -> None:
    """A notification that will not arrive: record it and fall back."""
    conn.execute(
        "UPDATE notifications SET status = 'failed', error = %s, updated_at = %s WHERE id = %s",
        (error, now, row["id"]),
    )
    store.timeline(
        conn,
        row["alert_id"],
        now,
        "failed",
        notification=row["id"],
        channel=row["channel"],
        to=row["to_address"],
        error=error,
    )
    fall_back(conn, row, now, channels)


def fall_back(
    conn: psycopg.Connection[Any], row: store.Row, now: datetime, channels: Channels
) -> None:
    if row["channel"] not in PERSON_CHANNELS or row["contact_id"] is None:
        return  # an app or robot message that failed: the person's SMS and call cover it
    alert = store.lock_alert(conn, row["alert_id"])
    if alert is None or alert["status"] not in ACTIVE_ALERT:
        return
    step = _current_step(alert)
    contact = store.fetch_one(conn, "SELECT * FROM contacts WHERE id = %s", (row["contact_id"],))
    next_channel = FALLBACK_CHANNEL.get(Channel(row["channel"]))
    if contact is not None and next_channel is not None:
        planned = plan_contact(conn, alert, contact, next_channel, step, channels, now, row["id"])
        if planned.notification_ids:
            store.timeline(
                conn,
                alert["id"],
                now,
                "fallback",
                to_channel=next_channel.value,
                contact_id=contact["id"],
                notifications=planned.notification_ids,
            )
            return
    _next_contact(conn, alert, row, step, now, channels)


def _next_contact(
    conn: psycopg.Connection[Any],
    alert: store.Row,
    row: store.Row,
    step: Step,
    now: datetime,
    channels: Channels,
) -> None:
    elder = store.elder_facts(conn, alert["elder_id"])
    if elder is None:
        return
    reached = {
        r["contact_id"]
        for r in store.fetch_all(
            conn,
            "SELECT DISTINCT contact_id FROM notifications WHERE alert_id = %s AND level = %s"
            " AND round = %s AND contact_id IS NOT NULL",
            (alert["id"], step.level, step.round),
        )
    }
    for contact in contacts_for(conn, elder, step.targets):
        if contact["id"] in reached:
            continue
        channel = Channel(step.channels[0])
        planned = plan_contact(conn, alert, contact, channel, step, channels, now, row["id"])
        if planned.notification_ids:
            store.timeline(
                conn,
                alert["id"],
                now,
                "fallback",
                to_contact=contact["id"],
                notifications=planned.notification_ids,
            )
            return
    # Nobody left on this level: climb now instead of waiting for the timeout.
    store.update_alert(conn, alert["id"], next_due_at=now, due_reason="escalate")
    store.timeline(conn, alert["id"], now, "fallback", to_level=step.level + 1)


def _current_step(alert: store.Row) -> Step:
    level = alert["policy"]["levels"][max(alert["level"], 0)]
    return Step(
        max(alert["level"], 0),
        alert["rounds"],
        level["targets"],
        level["channels"],
        alert["next_due_at"],
        alert["due_reason"],
    )


# How far a notification has got; a provider's callbacks may repeat or arrive out of
# order, and a status only ever moves forward.
PROGRESS: Final = {
    "pending": 0,
    "sending": 1,
    "queued": 2,
    "sent": 3,
    "delivered": 4,
    "failed": 4,
    "cancelled": 4,
}


def record_delivery(
    conn: psycopg.Connection[Any],
    notification_id: int,
    provider_id: str,
    status: DeliveryStatus,
    error: str | None,
    now: datetime,
    channels: Channels,
) -> bool:
    """A provider's status callback for our notification (its id is in the callback URL);
    False when that notification was not sent as `provider_id`. A callback may arrive
    before the send call returned, so the provider's id is learnt here too."""
    row = store.fetch_one(
        conn, "SELECT * FROM notifications WHERE id = %s FOR UPDATE", (notification_id,)
    )
    if row is None or row["provider_id"] not in (None, provider_id):
        return False
    if row["provider_id"] is None:
        conn.execute(
            "UPDATE notifications SET provider_id = %s WHERE id = %s", (provider_id, row["id"])
        )
    if PROGRESS[row["status"]] >= PROGRESS[status.value]:
        return True
    if status is DeliveryStatus.FAILED:
        mark_failed(conn, row, error or "the provider reported failure", now, channels)
        return True
    conn.execute(
        "UPDATE notifications SET status = %s, updated_at = %s WHERE id = %s",
        (status.value, now, row["id"]),
    )
    if status is DeliveryStatus.DELIVERED:
        store.timeline(
            conn,
            row["alert_id"],
            now,
            "delivered",
            notification=row["id"],
            channel=row["channel"],
            to=row["to_address"],
        )
    return True
