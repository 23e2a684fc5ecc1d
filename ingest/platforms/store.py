"""Group commit for carrier-platform pushes: many HTTP requests, one transaction.

Each request hands over its push as a `Job` (a function from the device directory to
what the push decodes into); a writer thread takes the jobs that are waiting (up to
`batch_max`, or what arrives within `batch_wait_s` of the first), decodes them, writes
them all with `ingest.writer.write_batch` on its own connection and commits, then
resolves every request's future. Two writers by default, so one group is written while
the other waits for its commit to reach the disk; the writer locks device rows in one
order, so they never deadlock. So a push is answered only after its commit, and many
concurrent pushes cost one commit.

A database failure fails the futures of that group with `DatabaseUnavailable` (the
route answers 503, the platform retries; the dedup id makes the retry harmless); the
connection is reopened for the next group. A row the database refuses is quarantined
alone, the way ingest does, so one bad push cannot hold the others. A decoder bug
quarantines its push. Nothing a push contains stops the thread.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from core.db import connect
from core.errors import DatabaseUnavailable
from ingest import writer
from ingest.adapters.directory import DeviceDirectory
from ingest.adapters.payload import reject
from ingest.directory import DatabaseDirectory
from ingest.messages import Decoded, QuarantineReason, Rejected
from ingest.platforms import metrics
from ingest.platforms.onenet import Refused

log = logging.getLogger(__name__)

DIRECTORY_REFRESH_S = 60.0
Decode = Callable[[DeviceDirectory], "Refused | list[Decoded]"]


@dataclass(frozen=True, slots=True)
class Job:
    platform: str
    decode: Decode
    body: bytes  # kept to quarantine the push if its decoder fails
    received_at: datetime
    topic: str


@dataclass
class Outcome:
    """What became of one push, once committed."""

    refused: Refused | None = None
    items: int = 0  # readings, events and statuses committed (a retry's are no-ops)
    quarantined: list[Rejected] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.refused is not None:
            return "refused"
        if self.items:
            return "stored"
        return "quarantined" if self.quarantined else "ignored"


@dataclass
class _Pending:
    job: Job
    future: "Future[Outcome]"
    items: list[Decoded] = field(default_factory=list)


class PlatformStore:
    def __init__(
        self,
        database_url: str,
        *,
        batch_max: int = 500,
        batch_wait_s: float = 0.0,
        writers: int = 2,
        on_signals: Callable[[int], None] | None = None,
    ) -> None:
        self._url = database_url
        self._batch_max = batch_max
        self._batch_wait_s = batch_wait_s
        self._on_signals = on_signals
        self._inbox: queue.Queue[_Pending | None] = queue.Queue()
        self._writers = writers
        self._local = threading.local()  # each writer thread's own connection
        self._directory_conn: psycopg.Connection[Any] | None = None
        self._directory_lock = threading.Lock()
        self.directory = DatabaseDirectory(self._directory_connection)
        self._threads: list[threading.Thread] = []
        self._refreshed = 0.0

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        # Two writers: one group commits (waiting on the disk) while the next is written.
        for number in range(self._writers):
            thread = threading.Thread(
                target=self._run, name=f"platform-store-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 15.0) -> None:
        """Commit what is queued, then stop."""
        for _ in self._threads:
            self._inbox.put(None)
        for thread in self._threads:
            thread.join(timeout_s)
        if self._directory_conn is not None:
            self._directory_conn.close()

    def submit(self, job: Job) -> "Future[Outcome]":
        future: Future[Outcome] = Future()
        self._inbox.put(_Pending(job, future))
        return future

    # --- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                group, stopping = self._collect()
                if group:
                    self._commit(group)
                if stopping:
                    return
        finally:
            self._drop_connection()

    def _collect(self) -> tuple[list[_Pending], bool]:
        first = self._inbox.get()
        if first is None:
            return [], True
        group = [first]
        deadline = time.monotonic() + self._batch_wait_s
        while len(group) < self._batch_max:
            try:
                remaining = deadline - time.monotonic()
                item = (
                    self._inbox.get_nowait()
                    if remaining <= 0
                    else self._inbox.get(timeout=remaining)
                )
            except queue.Empty:
                break
            if item is None:
                return group, True
            group.append(item)
        return group, False

    def _commit(self, group: list[_Pending]) -> None:
        started = time.monotonic()
        try:
            self._refresh_directory()
            outcomes = [self._decode(pending) for pending in group]
            to_write = [p for p, o in zip(group, outcomes, strict=True) if o.refused is None]
            result = self._write(to_write)
        except (psycopg.OperationalError, psycopg.InterfaceError, DatabaseUnavailable) as exc:
            log.warning("platform pushes not stored, database unavailable: %s", exc)
            self._drop_connection()
            self._drop_directory_connection()
            for pending in group:
                metrics.PUSHES.labels(pending.job.platform, "unavailable").inc()
                pending.future.set_exception(DatabaseUnavailable(str(exc)))
            return
        metrics.COMMIT_SECONDS.observe(time.monotonic() - started)
        metrics.DUPLICATES.inc(result.duplicates)
        for pending, outcome in zip(group, outcomes, strict=True):
            metrics.PUSHES.labels(pending.job.platform, outcome.label).inc()
            pending.future.set_result(outcome)
        if result.signals and self._on_signals is not None:
            self._on_signals(len(result.signals))

    def _decode(self, pending: _Pending) -> Outcome:
        job = pending.job
        try:
            decoded = job.decode(self.directory)
        except (psycopg.OperationalError, psycopg.InterfaceError, DatabaseUnavailable):
            raise
        except Exception as exc:  # a decoder bug must not lose the push: keep its bytes
            log.exception("platform decoder failed on a %s push", job.platform)
            decoded = [_refused(job, exc)]
        if isinstance(decoded, Refused):
            return Outcome(refused=decoded)
        pending.items = decoded
        rejected = [d for d in decoded if isinstance(d, Rejected)]
        return Outcome(items=len(decoded) - len(rejected), quarantined=rejected)

    def _write(self, group: list[_Pending]) -> writer.BatchResult:
        conn = self._connection()
        try:
            return writer.write_batch(conn, [item for p in group for item in p.items])
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except psycopg.Error as exc:
            log.warning("push group refused (%s); storing its pushes one by one", exc)
        total = writer.BatchResult()
        for pending in group:
            try:
                total.merge(writer.write_batch(conn, pending.items))
            except (psycopg.OperationalError, psycopg.InterfaceError):
                raise
            except psycopg.Error as exc:
                pending.items[:] = [_refused(pending.job, exc)]
                total.merge(writer.write_batch(conn, pending.items))
        return total

    # --- the database ----------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = connect(self._url, application_name="nuanxin-platforms", autocommit=True)
            writer.prepare(conn)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _drop_directory_connection(self) -> None:
        with self._directory_lock:
            if self._directory_conn is not None and self._directory_conn.broken:
                self._directory_conn.close()

    def _directory_connection(self) -> psycopg.Connection[Any]:
        # Shared by the writers: psycopg serialises a connection's statements itself.
        with self._directory_lock:
            if self._directory_conn is None or self._directory_conn.closed:
                self._directory_conn = connect(
                    self._url, application_name="nuanxin-platforms-directory", autocommit=True
                )
            return self._directory_conn

    def _refresh_directory(self) -> None:
        with self._directory_lock:
            due = time.monotonic() - self._refreshed > DIRECTORY_REFRESH_S
            if due:
                self._refreshed = time.monotonic()
        if due:
            try:
                self.directory.refresh()
            except BaseException:
                self._refreshed = 0.0  # try again with the next group
                raise


def _refused(job: Job, exc: Exception) -> Rejected:
    return reject(
        job.topic,
        job.body,
        QuarantineReason.SCHEMA,
        f"not storable: {type(exc).__name__}: {exc}",
        job.received_at,
    )
