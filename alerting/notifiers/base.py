"""The one seam between escalation and the outside world: `Notifier.send`.

A notifier does one thing: it hands one rendered `Message` to one provider and says what
happened in a `SendResult`. It never retries, never sleeps and never raises for a
provider or network failure; it translates the foreign error at the boundary and says
whether trying again later may help (`retryable`). Backoff, attempts and fallback to the
next channel live once, in the escalation pipeline that calls it.

    retryable=True    the provider or the network did not take the message this time:
                      connection refused or reset, timeout, HTTP 5xx, HTTP 429/throttling
    retryable=False   the same request will fail again: bad number, bad credentials,
                      unapproved template, other 4xx — fall back to another channel now

A timeout after the request left is ambiguous (the provider may have taken it). It is
reported as retryable: for an alarm a duplicate SMS is cheap, a missing one is not.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

from core.vocabulary import Channel

Locale = Literal["zh-CN", "en"]


class DeliveryStatus(StrEnum):
    """Where a notification stands, in the terms every provider can be mapped to."""

    QUEUED = "queued"  # the provider accepted it; nothing more is known yet
    SENT = "sent"  # handed to the carrier, the chat service or a connected app
    DELIVERED = "delivered"  # the handset got it, or the call was answered
    FAILED = "failed"


@dataclass(frozen=True)
class Message:
    """One notification, rendered, for one recipient on one channel."""

    notification_id: int  # our row id: the idempotency key and the callback path
    channel: Channel
    to: str  # E.164 phone number, webhook URL or app user id
    locale: Locale
    text: str
    template: str  # template key, e.g. "alert.emergency_call"
    alert_id: int
    # Short strings for providers that only send approved templates (Aliyun).
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    provider: str
    provider_id: str | None  # Twilio SID, Aliyun BizId, …
    status: DeliveryStatus
    retryable: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not DeliveryStatus.FAILED

    @classmethod
    def failure(
        cls, provider: str, error: str, *, retryable: bool, provider_id: str | None = None
    ) -> "SendResult":
        return cls(provider, provider_id, DeliveryStatus.FAILED, retryable, error)


class Notifier(Protocol):
    channel: Channel
    name: str

    def send(self, message: Message) -> SendResult:
        """Hand `message` to the provider; translate every provider or network error."""
        ...


def http_status_retryable(status: int) -> bool:
    """The one rule for HTTP answers: the server's trouble or a rate limit may pass."""
    return status == 429 or status >= 500


def network_reason(exc: BaseException) -> str:
    """A short, stored-safe reason for a network failure. SDK messages quote the whole
    request URL, which for template SMS carries the phone number and the address."""
    text = str(exc).lower()
    for needle, reason in (
        ("timed out", "timeout"),
        ("timeout", "timeout"),
        ("refused", "connection refused"),
        ("reset", "connection reset"),
        ("name or service", "unknown host"),
    ):
        if needle in text:
            return f"network: {reason}"
    return f"network: {type(exc).__name__}"
