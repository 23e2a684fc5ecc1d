"""Alert engine metrics, exported at /metrics in Prometheus text format."""

from prometheus_client import Counter, Gauge

ALERTS_OPENED = Counter("nuanxin_alerts_opened_total", "Alerts opened", ["rule", "severity"])
NOTIFICATIONS = Counter(
    "nuanxin_notifications_total", "Notification attempts by outcome", ["channel", "status"]
)
OUTBOX_PROCESSED = Counter(
    "nuanxin_alert_outbox_processed_total", "Signals evaluated by the alert engine"
)
OUTBOX_FAILED = Counter(
    "nuanxin_alert_outbox_failed_total",
    "Failed evaluations of outbox signals; each such signal keeps its last error in"
    " alert_outbox.error and is tried again after a backoff (alert_outbox.retry_at) until"
    " it succeeds, so a rise that does not stop needs a person",
)
PENDING_NOTIFICATIONS = Gauge(
    "nuanxin_notifications_pending", "Notifications waiting to be sent (at the last check)"
)
