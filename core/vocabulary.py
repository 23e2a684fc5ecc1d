"""The words alerts are made of, defined once: severities, channels, alert states,
notification states and resolution outcomes.

The API schemas, the engine, the database CHECK constraints (tests/storage/test_schema.py)
and the app's strings (tests/web/test_app_files.py) all use these; a value added here and
missing there fails a test.
"""

from enum import StrEnum
from typing import Final


class Severity(StrEnum):
    CRITICAL = "critical"  # a life may be at stake: someone must reach the home
    WARNING = "warning"
    MAINTENANCE = "maintenance"  # a device needs a person, the elder does not


class Channel(StrEnum):
    SMS = "sms"
    VOICE = "voice"
    APP = "app"
    WEBHOOK = "webhook"


class AlertStatus(StrEnum):
    """open → notified → acknowledged → on_site → resolved (a step may be skipped)."""

    OPEN = "open"  # opened, nobody told yet
    NOTIFIED = "notified"  # someone was sent a notification, nobody answered
    ACKNOWLEDGED = "acknowledged"  # a person said they are on it
    ON_SITE = "on_site"  # a person reached the home
    RESOLVED = "resolved"  # closed, with an outcome


# Nobody has answered these yet: they climb the escalation ladder.
UNACKNOWLEDGED: Final = (AlertStatus.OPEN, AlertStatus.NOTIFIED)
# Someone has: the on-site deadline applies.
ANSWERED: Final = (AlertStatus.ACKNOWLEDGED, AlertStatus.ON_SITE)


class NotificationStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by a dispatcher
    QUEUED = "queued"  # the provider accepted it
    SENT = "sent"  # handed to the carrier or app
    DELIVERED = "delivered"  # the handset got it, or the call was answered
    FAILED = "failed"
    CANCELLED = "cancelled"  # the alert was answered first


class Outcome(StrEnum):
    """How a person says an alert ended."""

    HANDLED = "handled"
    FALSE_ALARM = "false_alarm"
    HOSPITAL = "hospital"
    NO_ACTION_NEEDED = "no_action_needed"
    DEVICE_FIXED = "device_fixed"
    OTHER = "other"


# The outcome only the engine records: the device itself reported all-clear.
AUTO_CLEARED: Final = "auto_cleared"
