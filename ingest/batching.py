"""What every ingest path does between receiving messages and acknowledging them,
whatever carried them (MQTT, AMQP 1.0): collect a batch bounded by size and time, write
it through `writer.write_batch` in one transaction, retry with backoff while the
database is unreachable, and count what happened.

A database failure never drops a batch: `Database.retrying` runs the same work again
until it succeeds or the process is stopping, and the caller acknowledges nothing until
it has a result. One message the database refuses (a constraint, a value it cannot
store) does not hold the batch hostage: the batch is stored message by message and the
refused one quarantined.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import psycopg

from core.db import connect
from core.errors import DatabaseUnavailable
from ingest import metrics, writer
from ingest.adapters.payload import reject
from ingest.messages import Decoded, QuarantineReason, Rejected

log = logging.getLogger(__name__)

BACKOFF_START_S = 0.2
BACKOFF_MAX_S = 5.0
T = TypeVar("T")


class Received(Protocol):
    """A message as it arrived: where from, its bytes, when."""

    @property
    def topic(self) -> str: ...

    @property
    def payload(self) -> bytes: ...

    @property
    def received_at(self) -> datetime: ...


def collect(inbox: "queue.Queue[T]", batch_max: int, batch_wait: timedelta) -> list[T]:
    """The next batch: waits up to 0.2 s for a first message, then closes at `batch_max`
    messages or `batch_wait` after the first, so latency stays low when traffic is light
    and throughput high when it is heavy. Empty when nothing came."""
    try:
        first = inbox.get(timeout=0.2)
    except queue.Empty:
        return []
    batch = [first]
    deadline = time.monotonic() + batch_wait.total_seconds()
    while len(batch) < batch_max:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            batch.append(inbox.get(timeout=remaining))
        except queue.Empty:
            break
    metrics.QUEUE_DEPTH.set(inbox.qsize())
    return batch


class Database:
    """One connection with its staging tables, and the retry loop around it."""

    def __init__(self, url: str, application_name: str, stop: threading.Event) -> None:
        self._url = url
        self._application_name = application_name
        self._stop = stop
        self._conn: psycopg.Connection[Any] | None = None

    def connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(
                self._url, application_name=self._application_name, autocommit=True
            )
            writer.prepare(self._conn)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def retrying(self, work: Callable[[], T]) -> T | None:
        """Run `work`, retrying with backoff while the database is unreachable; None only
        when the process is stopping."""
        delay = BACKOFF_START_S
        while True:
            try:
                return work()
            except (psycopg.OperationalError, psycopg.InterfaceError, DatabaseUnavailable) as exc:
                metrics.DB_FAILURES.inc()
                log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                self.close()
            if self._stop.wait(delay):
                return None
            delay = min(delay * 2, BACKOFF_MAX_S)

    def write(self, batch: Sequence[Received], decoded: list[list[Decoded]]) -> writer.BatchResult:
        """Store the batch in one transaction; if the database refuses it for a reason
        other than being unreachable, store each message alone and quarantine the ones
        refused. Connection failures propagate, for `retrying`."""
        conn = self.connection()
        try:
            return writer.write_batch(conn, [item for items in decoded for item in items])
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except psycopg.Error as exc:
            log.warning("batch refused (%s); storing its messages one by one", exc)
        total = writer.BatchResult()
        for message, items in zip(batch, decoded, strict=True):
            try:
                one = writer.write_batch(conn, items)
            except (psycopg.OperationalError, psycopg.InterfaceError):
                raise
            except psycopg.Error as exc:
                items[:] = [refused(message, exc)]
                one = writer.write_batch(conn, items)
            total.merge(one)
        return total


def refused(message: Received, exc: Exception) -> Rejected:
    """The quarantine row of a message a decoder or the database could not take."""
    return reject(
        message.topic,
        message.payload,
        QuarantineReason.SCHEMA,
        f"not storable: {type(exc).__name__}: {exc}",
        message.received_at,
    )


def count(result: writer.BatchResult, decoded: list[Decoded]) -> None:
    metrics.STORED.labels("reading").inc(result.readings)
    metrics.STORED.labels("event").inc(result.events)
    metrics.DUPLICATES.inc(result.duplicates)
    metrics.SIGNALS.inc(len(result.signals))
    for item in decoded:
        if isinstance(item, Rejected):
            metrics.QUARANTINED.labels(item.reason.value).inc()
