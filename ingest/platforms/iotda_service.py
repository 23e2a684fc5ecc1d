"""The Huawei IoTDA consumer: AMQP 1.0 deliveries in, stored once, settled after commit.

The same loop as MQTT ingest (`ingest.batching`): batches close at `batch_max` messages
or `batch_wait` after their first; each is decoded (`ingest.platforms.iotda`), written
in one transaction, and only then are its deliveries accepted. While the database is
down the batch is retried with backoff and nothing is settled, and since the credit
window equals what may be unsettled, the platform holds the rest. A message that cannot
be decoded is quarantined with its reason and then accepted like any other: it is
stored (in quarantine), so settling it loses nothing.

Signals reach the alert engine as MQTT ingest's do: outbox rows and NOTIFY in the
batch's transaction, plus `on_signals` when the engine runs in the same process.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ingest import batching, metrics
from ingest.adapters.payload import reject
from ingest.amqp_client import AmqpReceiver, Received, ReceiverConfig
from ingest.directory import DatabaseDirectory
from ingest.messages import Decoded, QuarantineReason
from ingest.platforms import iotda

log = logging.getLogger(__name__)

DIRECTORY_REFRESH_S = 60.0


@dataclass(frozen=True)
class IotdaConfig:
    database_url: str
    receiver: ReceiverConfig
    batch_max: int = 1000
    batch_wait: timedelta = timedelta(milliseconds=25)


def iotda_username(access_key: str, instance_id: str | None, now_ms: int) -> str:
    """IoTDA's SASL PLAIN username; the timestamp must be within 5 minutes of the
    platform's clock, so it is made again at every connection attempt."""
    parts = [f"accessKey={access_key}", f"timestamp={now_ms}"]
    if instance_id:
        parts.append(f"instanceId={instance_id}")
    return "|".join(parts)


class IotdaConsumer:
    def __init__(self, config: IotdaConfig, on_signals: Callable[[int], None] | None = None):
        self.config = config
        self._on_signals = on_signals  # in-process hand-off to the alert engine
        self._stop = threading.Event()
        self._inbox: queue.Queue[Received] = queue.Queue()
        self._database = batching.Database(config.database_url, "nuanxin-iotda", self._stop)
        self.directory = DatabaseDirectory(self._database.connection)
        self.receiver = AmqpReceiver(config.receiver, self._inbox.put)
        self._thread: threading.Thread | None = None
        self.committed_batches = 0

    def start(self) -> None:
        self._database.retrying(self.directory.refresh)
        self.receiver.start()
        self._thread = threading.Thread(target=self._run, name="iotda-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Commit and settle the batch in hand, then close the connection; what was
        received but not committed stays unsettled and comes again."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.receiver.stop()
        self._database.close()

    def _run(self) -> None:
        last_refresh = time.monotonic()
        while not self._stop.is_set():
            batch = batching.collect(self._inbox, self.config.batch_max, self.config.batch_wait)
            if batch:
                self._commit(batch)
            if time.monotonic() - last_refresh > DIRECTORY_REFRESH_S:
                self._database.retrying(self.directory.refresh)
                last_refresh = time.monotonic()
        log.info("iotda writer stopped")

    def _commit(self, batch: list[Received]) -> None:
        started = time.monotonic()
        maybe = [self._decode(message) for message in batch]
        decoded = [items for items in maybe if items is not None]
        if len(decoded) < len(batch):  # stopping while the database is down
            return
        result = self._database.retrying(lambda: self._database.write(batch, decoded))
        if result is None:  # stopping while the database is down: left unsettled
            return
        self.receiver.accept_committed(batch)
        self.committed_batches += 1
        batching.count(result, [item for items in decoded for item in items])
        metrics.BATCH_SECONDS.observe(time.monotonic() - started)
        metrics.BATCH_SIZE.observe(len(batch))
        if result.signals and self._on_signals is not None:
            self._on_signals(len(result.signals))

    def _decode(self, message: Received) -> list[Decoded] | None:
        if message.problem is not None:
            return [
                reject(
                    message.topic,
                    message.payload,
                    QuarantineReason.BAD_JSON,
                    message.problem,
                    message.received_at,
                )
            ]
        try:
            return self._database.retrying(
                lambda: iotda.decode_message(message.payload, message.received_at, self.directory)
            )
        except Exception as exc:  # a decoder bug must not stop the consumer: keep the bytes
            log.exception("iotda decoder failed")
            return [batching.refused(message, exc)]
