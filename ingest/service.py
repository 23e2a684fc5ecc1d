"""The ingest loop: collect messages into batches bounded by size and time, decode,
write and commit, then acknowledge.

Batches close at `batch_max` messages or `batch_wait` after their first message, so
latency stays low when traffic is light and throughput high when it is heavy. A database
failure never drops a batch and never stops the service: the same batch is retried with
backoff until it commits, and meanwhile nothing is acknowledged, so the broker holds the
rest. Nothing a message contains can stop the loop: a decoder bug quarantines it.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TypeVar

from ingest import batching, metrics
from ingest.adapters import Router
from ingest.directory import DatabaseDirectory
from ingest.messages import Decoded
from ingest.mqtt_client import Inbound, Subscriber, SubscriberConfig

log = logging.getLogger(__name__)

DIRECTORY_REFRESH_S = 60.0
T = TypeVar("T")


@dataclass(frozen=True)
class IngestConfig:
    database_url: str
    subscriber: SubscriberConfig
    batch_max: int = 1000
    batch_wait: timedelta = timedelta(milliseconds=25)
    # Take the formats a share group cannot split (Zigbee2MQTT): one process per broker.
    whole_formats: bool = True


class IngestService:
    def __init__(
        self,
        config: IngestConfig,
        on_signals: Callable[[int], None] | None = None,
    ) -> None:
        self.config = config
        self._on_signals = on_signals  # in-process hand-off to the alert engine
        self._inbox: queue.Queue[Inbound] = queue.Queue()
        self._stop = threading.Event()
        self._database = batching.Database(config.database_url, "nuanxin-ingest", self._stop)
        self.directory = DatabaseDirectory(self._database.connection)
        self.router = Router(self.directory)
        subscriber = config.subscriber
        if not (subscriber.topics or subscriber.whole_topics):
            subscriber = self._route_subscriptions(subscriber, config.whole_formats)
        self.subscriber = Subscriber(subscriber, self._inbox.put)
        self._thread: threading.Thread | None = None
        self.committed_batches = 0

    def _route_subscriptions(self, config: SubscriberConfig, whole: bool) -> SubscriberConfig:
        """Formats a share group may split go to the group; the others (Zigbee2MQTT)
        come whole to this process when `whole`, else to none of this process."""
        routes = self.router.routes
        split = [r.subscription for r in routes if r.split_by_group]
        unsplit = [r.subscription for r in routes if not r.split_by_group]
        if whole:
            return replace(config, topics=split, whole_topics=unsplit)
        return replace(config, topics=split, retired_topics=unsplit)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._with_database(self.directory.refresh)
        self.subscriber.start()
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish and commit the batch in hand, acknowledge it, then disconnect."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.subscriber.stop()
        self._database.close()

    def wait(self) -> None:
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(1.0)

    # --- the loop --------------------------------------------------------------------

    def _run(self) -> None:
        last_refresh = time.monotonic()
        while not self._stop.is_set():
            batch = batching.collect(self._inbox, self.config.batch_max, self.config.batch_wait)
            if batch:
                self._commit(batch)
            if time.monotonic() - last_refresh > DIRECTORY_REFRESH_S:
                self._with_database(self.directory.refresh)
                last_refresh = time.monotonic()
        log.info("ingest writer stopped")

    def _commit(self, batch: list[Inbound]) -> None:
        started = time.monotonic()
        maybe = [self._decode(message) for message in batch]
        decoded = [items for items in maybe if items is not None]
        if len(decoded) < len(batch):  # stopping while the database is down: not decoded,
            return  # so not acknowledged; the broker redelivers it to the next start
        result = self._with_database(lambda: self._database.write(batch, decoded))
        if result is None:  # stopping while the database is down: leave it unacknowledged
            return
        self.subscriber.ack(batch)
        self.committed_batches += 1
        batching.count(result, [item for items in decoded for item in items])
        metrics.BATCH_SECONDS.observe(time.monotonic() - started)
        metrics.BATCH_SIZE.observe(len(batch))
        if result.signals and self._on_signals is not None:
            self._on_signals(len(result.signals))

    def _decode(self, message: Inbound) -> list[Decoded] | None:
        """The message's typed items; None only when stopping while the database (which
        the device directory may need) is down."""
        try:
            items = self._with_database(
                lambda: self.router.decode(message.topic, message.payload, message.received_at)
            )
        except Exception as exc:  # a decoder bug must not stop ingest: keep the bytes
            log.exception("decoder failed on %s", message.topic)
            return [batching.refused(message, exc)]
        return items

    def _with_database(self, work: Callable[[], T]) -> T | None:
        return self._database.retrying(work)
