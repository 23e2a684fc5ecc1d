"""The running alert engine: a worker woken by new signals, and APScheduler jobs for the
clocks (escalation sweep, timer rules, stale sends, readings retention).

Every periodic piece of work is a row of `AlertingService.jobs`: the scheduler registers
the rows with an interval, the worker runs the others whenever it is woken. Each job
walks its items through core.isolation, so one bad elder, device, alert, signal or
notification is logged, counted in nuanxin_job_item_errors_total{job} and retried on a
later run while the others go on.

Wake-ups come from ingest in the same process (`wake`), from PostgreSQL NOTIFY when ingest
runs elsewhere, and from a one-second tick as a safety net; whichever comes first, the
worker evaluates the outbox and sends at once, so the first page of a critical alert does
not wait for a timer.
"""

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from psycopg_pool import ConnectionPool

from alerting import timers
from alerting.dispatch import DISPATCH_JOB, STALE_JOB, Dispatcher, NotifierKey
from alerting.engine import OUTBOX_JOB, SWEEP_JOB, AlertEngine, utc_now
from alerting.notifiers.base import Notifier
from alerting.planner import Channels
from core import notify_channels, storage
from core.db import connect

log = logging.getLogger(__name__)

TICK_S = 1.0
RETENTION_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class Job:
    name: str  # the scheduler's job id and the `job` label of the item-error metric
    run: Callable[[], int]  # how many items it did; the worker is woken when any
    every_s: float | None  # None: run by the worker whenever it is woken


class AlertingService:
    def __init__(
        self,
        pool: ConnectionPool,
        database_url: str,
        notifiers: Mapping[NotifierKey, Notifier],
        channels: Channels,
        clock: Callable[[], datetime] = utc_now,
        timer_interval_s: float = 30.0,
        readings_retention_days: int = 400,
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
        self._retention_days = readings_retention_days
        self.jobs = {job.name: job for job in self._job_table(timer_interval_s)}
        for job in self.jobs.values():
            if job.every_s is not None:
                self.scheduler.add_job(
                    self._scheduled, "interval", args=[job], seconds=job.every_s, id=job.name
                )

    def _job_table(self, timer_interval_s: float) -> tuple[Job, ...]:
        engine, dispatcher = self.engine, self.dispatcher
        return (
            # The worker's, in this order: evaluate signals, then send what they planned.
            Job(OUTBOX_JOB, engine.process_outbox, None),
            Job(DISPATCH_JOB, dispatcher.run_once, None),
            Job(SWEEP_JOB, engine.sweep, TICK_S),
            Job(timers.OFFLINE_JOB, partial(timers.check_offline, engine), timer_interval_s),
            Job(timers.INACTIVITY_JOB, partial(timers.check_inactivity, engine), timer_interval_s),
            Job(STALE_JOB, dispatcher.recover_stale, 60),
            Job(storage.RETENTION_JOB, self.prune_readings, RETENTION_INTERVAL_S),
        )

    def start(self) -> None:
        self.dispatcher.recover_stale()
        for name, target in (("alert-engine", self._work), ("outbox-listener", self._listen)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
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

    def run_until_idle(self) -> None:
        """Evaluate every pending signal and send every due notification, now."""
        for job in self.jobs.values():
            if job.every_s is None:
                while job.run():
                    pass

    def prune_readings(self) -> int:
        """Plain PostgreSQL's retention; TimescaleDB's own policy does it there."""
        with connect(
            self._database_url, application_name="nuanxin-retention", autocommit=True
        ) as conn:
            if storage.timescaledb_installed(conn):
                return 0
            return storage.prune_readings(conn, self._retention_days, self.engine.clock())

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

    def _scheduled(self, job: Job) -> None:
        try:
            if job.run():
                self.wake()
        except psycopg.Error as exc:  # the database is away: the next run tries again
            log.warning("%s: database error (%s)", job.name, exc)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with connect(
                    self._database_url, application_name="nuanxin-alerting", autocommit=True
                ) as conn:
                    conn.execute(f"LISTEN {notify_channels.OUTBOX}")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=TICK_S, stop_after=1):
                            self.wake()
            except Exception as exc:  # the tick still covers us while we reconnect
                log.warning("outbox listener: %s; reconnecting", exc)
                self._stop.wait(TICK_S)
