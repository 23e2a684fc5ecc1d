"""PostgreSQL NOTIFY channels: the names every process LISTENs on or NOTIFYs.

They are the seams between components that run in separate processes, so they live
here rather than in the component that happens to send: ingest wakes the alert engine,
the engine and the API announce alert changes to every API process's live stream, and
the push notifier hands app pushes to whichever API process holds the user's screen.
"""

from typing import Final

OUTBOX: Final = "nuanxin_outbox"
"""Ingest committed events to the outbox: the alert engine drains it now (payload empty)."""

ALERTS: Final = "nuanxin_alerts"
"""An alert changed, `'<alert id>:<kind>'`, sent in the changing transaction."""

PUSH: Final = "nuanxin_push"
"""An app push, JSON `{user_id, notification_id, alert_id, text}`."""
