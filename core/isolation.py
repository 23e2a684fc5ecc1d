"""One bad row never stops the work for everyone else (safety invariant 3).

Every scheduled job and sweep walks its items — elders, devices, alerts, signals,
notifications — through `each_item`. Each item runs on its own: on a connection it gets
its own savepoint (or its own transaction, when none is open), so the database refusing
one item neither aborts the others' work nor commits half of its own. An item that raises
is logged with its id, counted in `nuanxin_job_item_errors_total{job}`, handed to the
job's `on_error` (which records it for a retry), and skipped; the others go on. Nothing
is marked done for an item that failed: the job finds it again on its next run.

Only a lost connection stops a run, since then every item would fail alike: the error
goes up, nothing of the open transaction is committed, and the whole run is retried.

`degraded` counts an item that did not raise but ran on a safe default because a stored
value was unusable (an unknown time zone): the job goes on for that item too, and the
value is reported so that a person corrects it.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import psycopg
from prometheus_client import Counter
from psycopg.pq import TransactionStatus

log = logging.getLogger(__name__)

ITEM_ERRORS = Counter(
    "nuanxin_job_item_errors_total",
    "Items a scheduled job or sweep could not process as stored (skipped and retried on"
    " its next run, or run on a safe default); each is logged with the job and its id",
    ["job"],
)

T = TypeVar("T")


@dataclass
class ItemResults(Generic[T]):
    done: list[T] = field(default_factory=list)
    failed: list[T] = field(default_factory=list)


def degraded(job: str, item_id: object, problem: str) -> None:
    """An item ran on a safe default: say which one and why, and count it."""
    log.error("%s: item %s: %s", job, item_id, problem)
    ITEM_ERRORS.labels(job).inc()


def each_item(
    job: str,
    items: Iterable[T],
    process: Callable[[T], object],
    *,
    key: Callable[[T], object],
    conn: psycopg.Connection[Any] | None = None,
    on_error: Callable[[T, Exception], object] | None = None,
) -> ItemResults[T]:
    """Process each item alone; returns which were done and which failed.

    With `conn`, each item runs in a savepoint of it (or a transaction of its own in
    autocommit mode); without, `process` looks after its own transactions.
    """
    outcome: ItemResults[T] = ItemResults()
    for item in items:
        try:
            _run(process, item, conn)
        except Exception as exc:
            if _connection_lost(exc, conn):
                raise
            log.exception("%s: item %s failed; skipped, retried on the next run", job, key(item))
            ITEM_ERRORS.labels(job).inc()
            outcome.failed.append(item)
            if on_error is not None:
                _record_failure(job, key(item), on_error, item, exc, conn)
        else:
            outcome.done.append(item)
    return outcome


def _run(process: Callable[[T], object], item: T, conn: psycopg.Connection[Any] | None) -> None:
    if conn is None:
        process(item)
        return
    with conn.transaction():
        process(item)


def _record_failure(
    job: str,
    item_id: object,
    on_error: Callable[[T, Exception], object],
    item: T,
    exc: Exception,
    conn: psycopg.Connection[Any] | None,
) -> None:
    """Keep what the job needs to retry the item later; this may fail too (the same
    row may refuse every write), and then the item is simply found again next run."""
    try:
        _run(lambda it: on_error(it, exc), item, conn)
    except Exception as second:
        if _connection_lost(second, conn):
            raise
        log.warning("%s: item %s: could not record the failure: %s", job, item_id, second)


def _connection_lost(exc: Exception, conn: psycopg.Connection[Any] | None) -> bool:
    if isinstance(exc, psycopg.InterfaceError):
        return True
    if conn is None:
        return isinstance(exc, psycopg.OperationalError) and _is_connection_failure(exc)
    # A savepoint that could not be rolled back leaves the transaction unusable.
    return conn.broken or conn.info.transaction_status is TransactionStatus.INERROR


def _is_connection_failure(exc: psycopg.OperationalError) -> bool:
    """A per-item statement or lock timeout, a deadlock or a serialization failure is an
    OperationalError too, but only that item's; a connection that failed has no SQLSTATE
    or one of class 08 (connection exception) or 57P (operator intervention)."""
    state = getattr(exc, "sqlstate", None)
    return state is None or state.startswith(("08", "57P"))
