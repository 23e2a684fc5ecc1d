"""The running alert engine: a worker woken by new signals, and APScheduler jobs for the
clocks (escalation sweep, timer rules, stale sends).

Wake-ups come from ingest in the same process (`wake`), from PostgreSQL NOTIFY when ingest
runs elsewhere, and from a one-second tick as a safety net; whichever comes first, the
worker evaluates the outbox and sends at once, so the first page of a critical alert does
not wait for a timer.
"""

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from psycopg_pool import ConnectionPool

from alerting import timers
from alerting.dispatch import Dispatcher, NotifierKey
from alerting.engine import AlertEngine, utc_now
from alerting.notifiers.base import Notifier
from alerting.planner import Channels
from core.db import connect
from ingest.writer import OUTBOX_CHANNEL

log = logging.getLogger(__name__)

TICK_S = 1.0


class AlertingService:
    def __init__(
        self,
        pool: ConnectionPool,
        database_url: str,
        notifiers: Mapping[NotifierKey, Notifier],
        channels: Channels,
        clock: Callable[[], datetime] = utc_now,
        timer_interval_s: float = 30.0,
    ) -> None:
        self.engine = AlertEngine(pool, channels, clock)
        self.dispatcher = Dispatcher(pool, notifiers, channels, clock)
        self._database_url = database_url
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1}
        )
        self._timer_interval_s = timer_interval_s

    def start(self) -> None:
        self.dispatcher.recover_stale()
        for name, target in (("alert-engine", self._work), ("outbox-listener", self._listen)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.scheduler.add_job(self._sweep, "interval", seconds=TICK_S, id="escalation-sweep")
        self.scheduler.add_job(
            self.check_timers, "interval", seconds=self._timer_interval_s, id="timer-rules"
        )
        self.scheduler.add_job(
            self.dispatcher.recover_stale, "interval", seconds=60, id="stale-sends"
        )
        self.scheduler.start()
        self.wake()  # whatever was left unevaluated before a restart

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        for thread in self._threads:
            thread.join(10)

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running) and all(t.is_alive() for t in self._threads)

    def wake(self, _signals: int = 0) -> None:
        self._wake.set()

    def check_timers(self) -> None:
        timers.check_offline(self.engine)
        timers.check_inactivity(self.engine)
        self.wake()

    def run_until_idle(self) -> None:
        """Evaluate every pending signal and send every due notification, now."""
        while self.engine.process_outbox():
            pass
        while self.dispatcher.run_once():
            pass

    def _work(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(TICK_S)
            self._wake.clear()
            try:
                self.run_until_idle()
            except psycopg.Error as exc:
                log.warning("alert engine: database error (%s); retrying", exc)
                self._stop.wait(TICK_S)
            except Exception:  # never let one bad row stop the engine
                log.exception("alert engine step failed")
                self._stop.wait(TICK_S)

    def _sweep(self) -> None:
        try:
            if self.engine.sweep():
                self.wake()
        except psycopg.Error as exc:
            log.warning("escalation sweep: database error (%s)", exc)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with connect(
                    self._database_url, application_name="nuanxin-alerting", autocommit=True
                ) as conn:
                    conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=TICK_S, stop_after=1):
                            self.wake()
            except Exception as exc:  # the tick still covers us while we reconnect
                log.warning("outbox listener: %s; reconnecting", exc)
                self._stop.wait(TICK_S)
