"""Ingest metrics, exported at /metrics in Prometheus text format."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_IN = Counter("nuanxin_ingest_messages_total", "MQTT messages received by ingest")
STORED = Counter(
    "nuanxin_ingest_stored_total", "Messages stored (first delivery)", ["kind"]
)  # kind: reading | event | status
DUPLICATES = Counter("nuanxin_ingest_duplicates_total", "Redelivered messages found already stored")
QUARANTINED = Counter("nuanxin_ingest_quarantined_total", "Messages put in quarantine", ["reason"])
SIGNALS = Counter("nuanxin_ingest_signals_total", "Outbox rows handed to the alert engine")
BATCH_SECONDS = Histogram(
    "nuanxin_ingest_batch_seconds",
    "Time to write and commit one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BATCH_SIZE = Histogram(
    "nuanxin_ingest_batch_messages",
    "Messages per committed batch",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
)
QUEUE_DEPTH = Gauge("nuanxin_ingest_queue_depth", "Messages received, not yet committed")
DB_FAILURES = Counter(
    "nuanxin_ingest_db_failures_total", "Batches that failed to commit and were retried"
)
CONNECTED = Gauge("nuanxin_ingest_broker_connected", "1 while connected to the broker")
