"""The alert engine: outbox signals become alert changes, and due alerts climb their
escalation ladder.

Outbox rows are evaluated in id order by one engine at a time (a transaction-scoped
advisory lock; other engines skip the turn), and marking them processed happens in the
transaction that opens, repeats or clears their alert and writes its notifications. So
a crash between ingest and the engine loses nothing, and nothing is paged twice. Each
row is evaluated in its own savepoint (core.isolation): one that fails is rolled back,
keeps its error, and is tried again after a backoff, never marked processed. The
sweep of due alerts locks each alert row (FOR UPDATE SKIP LOCKED), so several engines
share it without doubling a notification.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg_pool import ConnectionPool
from pydantic import ValidationError

from alerting import escalation, metrics, store
from alerting.planner import Channels, plan_installer, plan_step
from alerting.rules import Rule, Signal, Verdict, evaluate
from core.isolation import each_item
from core.types import DeviceLifecycle
from core.vocabulary import ANSWERED, AlertStatus, Severity
from device_registry.installation import PROOF_EVENT, evaluate_latest_check
from device_registry.policies import effective_policy

log = logging.getLogger(__name__)

OUTBOX_LOCK = int.from_bytes(b"nx-outbx", "big")
OUTBOX_JOB = "alert-outbox"
SWEEP_JOB = "escalation-sweep"
# A signal whose evaluation failed is tried again after these delays, then every 10
# minutes for as long as it fails: an alarm is never given up on.
OUTBOX_BACKOFF: Final = tuple(timedelta(seconds=s) for s in (5, 30, 120, 600))
# An alert whose escalation step failed is looked at again this much later, so that a
# few broken alerts never fill the sweep's batch ahead of the healthy ones.
SWEEP_RETRY: Final = timedelta(seconds=60)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AlertEngine:
    def __init__(self, pool: ConnectionPool, channels: Channels, clock: Clock = utc_now) -> None:
        self.pool = pool
        self.channels = channels
        self.clock = clock

    # --- signals → alerts ------------------------------------------------------------

    def process_outbox(self, limit: int = 200) -> int:
        """Evaluate pending outbox rows, each on its own (core.isolation); returns how
        many were evaluated. A row that fails keeps its error and is tried again after
        a backoff; until then it holds up nothing behind it."""
        with self.pool.connection() as conn:
            got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (OUTBOX_LOCK,)).fetchone()
            if not got or not got[0]:
                return 0  # another engine is on it; it takes rows in order
            now = self.clock()
            rows = store.claim_outbox(conn, limit, now)
            outcome = each_item(
                OUTBOX_JOB,
                rows,
                lambda row: self._handle(conn, row, now),
                key=lambda row: f"outbox row {row['id']} ({row['signal']} from {row['device_id']})",
                conn=conn,
                on_error=lambda row, exc: self._retry_later(conn, row, exc, now),
            )
            if outcome.done:
                store.mark_processed(conn, [r["id"] for r in outcome.done], now)
                metrics.OUTBOX_PROCESSED.inc(len(outcome.done))
            return len(outcome.done)

    @staticmethod
    def _retry_later(
        conn: psycopg.Connection[Any], row: store.Row, exc: Exception, now: datetime
    ) -> None:
        metrics.OUTBOX_FAILED.inc()
        attempts = row["attempts"] + 1
        store.retry_outbox_row(
            conn,
            row["id"],
            attempts,
            f"{type(exc).__name__}: {exc}"[:500],
            now + OUTBOX_BACKOFF[min(attempts, len(OUTBOX_BACKOFF)) - 1],
        )

    def _handle(self, conn: psycopg.Connection[Any], row: store.Row, now: datetime) -> None:
        device = store.device_context(conn, row["device_id"])
        if device is None or device.elder_id is None:
            log.info(
                "signal %s from %s: device not placed in a home", row["signal"], row["device_id"]
            )
            return
        if (
            row["signal"] == PROOF_EVENT[device.device_type].value
            and (device.state is not DeviceLifecycle.COMMISSIONED)
            and evaluate_latest_check(conn, device.device_id)
        ):
            return  # the installer's proof: the device is commissioned, nobody is paged
        signal = Signal(row["signal"], row["raised"], row["value"], row["detail"])
        for rule, verdict in evaluate(signal, device.device_type, device.settings):
            if verdict is Verdict.TRIGGER:
                test = device.state is not DeviceLifecycle.COMMISSIONED
                self.trigger(
                    conn,
                    rule,
                    device.elder_id,
                    device.device_id,
                    row["ts"],
                    now,
                    test=test,
                    source=row["id"],
                )
            else:
                self.clear(conn, rule, device.elder_id, device.device_id, now)

    def trigger(
        self,
        conn: psycopg.Connection[Any],
        rule: Rule,
        elder_id: int,
        device_id: str | None,
        triggered_at: datetime,
        now: datetime,
        *,
        test: bool = False,
        source: int | None = None,
    ) -> int:
        """Open the alert, or count a repeat on the open one; returns the alert id."""
        existing = store.open_alert_for(conn, elder_id, rule.name, device_id)
        if existing is None:
            opened = self._open(conn, rule, elder_id, device_id, triggered_at, now, test, source)
            if opened is not None:
                return opened
            existing = store.open_alert_for(conn, elder_id, rule.name, device_id)
            assert existing is not None
        # One physical event may arrive as an alarm event and a raised flag at one instant.
        if triggered_at != existing["last_triggered_at"]:
            store.update_alert(
                conn,
                existing["id"],
                trigger_count=existing["trigger_count"] + 1,
                last_triggered_at=triggered_at,
                condition_cleared_at=None,  # it came back
            )
            store.timeline(
                conn,
                existing["id"],
                now,
                "repeated",
                count=existing["trigger_count"] + 1,
                triggered_at=triggered_at.isoformat(),
            )
        return int(existing["id"])

    def _open(
        self,
        conn: psycopg.Connection[Any],
        rule: Rule,
        elder_id: int,
        device_id: str | None,
        triggered_at: datetime,
        now: datetime,
        test: bool,
        source: int | None,
    ) -> int | None:
        policy = None if test else self._policy(conn, elder_id, rule)
        alert = store.insert_alert(
            conn,
            elder_id=elder_id,
            device_id=device_id,
            rule=rule.name,
            severity=rule.severity,
            test=test,
            now=now,
            triggered_at=triggered_at,
            policy=policy,
            source_outbox_id=source,
        )
        if alert is None:
            return None
        # Counted at the insert: an item rolled back after it is rare and shows in
        # nuanxin_job_item_errors_total, a missed count of a real alert would not show.
        metrics.ALERTS_OPENED.labels(rule.name, rule.severity.value).inc()
        store.timeline(
            conn,
            alert["id"],
            now,
            "opened",
            rule=rule.name,
            severity=rule.severity.value,
            test=test,
            device_id=device_id,
        )
        if test:
            self._page_installer(conn, alert, now)
        else:
            assert policy is not None
            self.apply_step(conn, alert, escalation.first_step(policy, now), now)
        return int(alert["id"])

    def _policy(self, conn: psycopg.Connection[Any], elder_id: int, rule: Rule) -> dict[str, Any]:
        try:
            found = effective_policy(conn, elder_id, rule.severity)
        except ValidationError:
            log.error(
                "the stored %s policy of elder %s is invalid; using the default",
                rule.severity,
                elder_id,
            )
            found = None
        if found is not None:
            return found.model_dump(
                mode="json", include={"name", "levels", "repeat_interval_s"}, exclude_none=True
            )
        return escalation.DEFAULT_POLICIES[rule.severity]

    def _page_installer(
        self, conn: psycopg.Connection[Any], alert: store.Row, now: datetime
    ) -> None:
        row = store.fetch_one(
            conn,
            "SELECT opened_by FROM installation_checks WHERE device_id = %s"
            " ORDER BY opened_at DESC LIMIT 1",
            (alert["device_id"],),
        )
        if row is None:
            store.timeline(
                conn,
                alert["id"],
                now,
                "not_paged",
                reason="test alert: no installer has opened a check on this device",
            )
            return
        planned = plan_installer(conn, alert, row["opened_by"], now)
        store.update_alert(conn, alert["id"], status=AlertStatus.NOTIFIED)
        store.timeline(
            conn,
            alert["id"],
            now,
            "paged_installer",
            user_id=row["opened_by"],
            notifications=planned.notification_ids,
        )

    def apply_step(
        self, conn: psycopg.Connection[Any], alert: store.Row, step: escalation.Step, now: datetime
    ) -> None:
        planned = plan_step(conn, alert, step, self.channels, now)
        store.update_alert(
            conn,
            alert["id"],
            status=AlertStatus.NOTIFIED,
            level=step.level,
            rounds=step.round,
            next_due_at=step.next_due_at,
            due_reason=step.due_reason,
        )
        kind = "notified" if step.level == 0 and step.round == 0 else "escalated"
        store.timeline(
            conn,
            alert["id"],
            now,
            kind,
            level=step.level,
            round=step.round,
            notifications=planned.notification_ids,
            skipped=planned.skipped,
        )

    def clear(
        self,
        conn: psycopg.Connection[Any],
        rule: Rule,
        elder_id: int,
        device_id: str | None,
        now: datetime,
    ) -> None:
        """The condition is gone. Critical alerts wait for a person to close them; the
        others close by themselves."""
        alert = store.open_alert_for(conn, elder_id, rule.name, device_id)
        if alert is None or alert["condition_cleared_at"] is not None:
            return
        store.update_alert(conn, alert["id"], condition_cleared_at=now)
        store.timeline(conn, alert["id"], now, "cleared")
        if rule.severity is not Severity.CRITICAL:
            store.update_alert(
                conn,
                alert["id"],
                status=AlertStatus.RESOLVED,
                resolved_at=now,
                resolved_by="system",
                outcome="auto_cleared",
                next_due_at=None,
                due_reason=None,
            )
            store.cancel_pending(conn, alert["id"], now)
            store.timeline(conn, alert["id"], now, "resolved", outcome="auto_cleared")

    # --- due alerts --------------------------------------------------------------------

    def sweep(self, limit: int = 50) -> int:
        """Act on every alert whose deadline has passed, each on its own
        (core.isolation); returns how many were acted on."""
        with self.pool.connection() as conn:
            now = self.clock()
            due = store.fetch_all(
                conn,
                "SELECT * FROM alerts WHERE next_due_at <= %s AND status <> 'resolved'"
                " ORDER BY next_due_at LIMIT %s FOR UPDATE SKIP LOCKED",
                (now, limit),
            )
            outcome = each_item(
                SWEEP_JOB,
                due,
                lambda alert: self._due(conn, alert, now),
                key=lambda alert: f"alert {alert['id']}",
                conn=conn,
                on_error=lambda alert, _exc: store.update_alert(
                    conn, alert["id"], next_due_at=now + SWEEP_RETRY
                ),
            )
            return len(outcome.done)

    def _due(self, conn: psycopg.Connection[Any], alert: store.Row, now: datetime) -> None:
        if alert["status"] in ANSWERED and alert["due_reason"] != ("on_site_deadline"):
            store.update_alert(conn, alert["id"], next_due_at=None, due_reason=None)
            return
        if alert["due_reason"] == "on_site_deadline":
            if alert["status"] != AlertStatus.ACKNOWLEDGED:
                store.update_alert(conn, alert["id"], next_due_at=None, due_reason=None)
                return
            store.timeline(
                conn, alert["id"], now, "deadline_missed", reason="nobody confirmed being on site"
            )
        step = escalation.next_step(alert["policy"], alert["level"], alert["rounds"], now)
        self.apply_step(conn, alert, step, now)
