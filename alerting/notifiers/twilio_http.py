"""The Twilio boundary shared by the SMS and voice notifiers: configuration, the client,
the redirect to a local Twilio-compatible server, and the translation of Twilio's errors
and statuses into ours.

Why a `TwilioHttpClient` subclass and not `edge`/`region`: the SDK builds every URL on a
Twilio domain (api.twilio.com, …) and `edge`/`region` only splice words into that host
name, which turns a localhost URL into nonsense. Rewriting scheme and host just before
the request leaves path, form body and Basic auth exactly as Twilio would receive them,
for every Twilio domain.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from twilio.base.exceptions import (  # type: ignore[import-untyped]  # twilio ships no type hints
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient  # type: ignore[import-untyped]
from twilio.http.response import Response  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from alerting.notifiers.base import (
    DeliveryStatus,
    SendResult,
    http_status_retryable,
    network_reason,
)

PROVIDER = "twilio"


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: str
    from_number: str  # E.164 Twilio number that sends SMS and places calls
    callback_base_url: str  # how Twilio reaches our API, e.g. "https://nuanxin.example.cn"
    api_base_url: str | None = None  # a local Twilio-compatible server; None = Twilio itself
    timeout_s: float = 10.0


class RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]  # untyped base class
    """Sends every Twilio request to `base_url` instead of the Twilio host it names."""

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        target = urlsplit(base_url)
        self._scheme = target.scheme
        self._netloc = target.netloc
        self._prefix = target.path.rstrip("/")

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        parts = urlsplit(url)
        local = urlunsplit(
            (self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment)
        )
        return super().request(
            method,
            local,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def twilio_client(config: TwilioConfig) -> Client:
    """A client that never retries on its own: retries belong to the escalation pipeline."""
    http_client = (
        RedirectingHttpClient(config.api_base_url, timeout=config.timeout_s)
        if config.api_base_url
        else TwilioHttpClient(timeout=config.timeout_s)
    )
    return Client(config.account_sid, config.auth_token, http_client=http_client)


# Twilio error codes that mean "not now" although the HTTP status says "never".
RETRYABLE_TWILIO_CODES = frozenset(
    {
        14107,  # SMS send rate limit exceeded
        20429,  # too many requests
        21611,  # the From number has too many messages queued
    }
)


def twilio_failure(exc: Exception) -> SendResult:
    """Translate whatever the SDK or the network raised into a failed SendResult."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status = int(exc.status)
        code = exc.code
        text = exc.msg if isinstance(exc, TwilioRestException) else exc.title
        retryable = http_status_retryable(status) or code in RETRYABLE_TWILIO_CODES
        return SendResult.failure(
            PROVIDER, f"HTTP {status}, Twilio error {code}: {text}", retryable=retryable
        )
    if isinstance(exc, OSError):  # requests' connection errors and timeouts are OSErrors
        return SendResult.failure(PROVIDER, network_reason(exc), retryable=True)
    if isinstance(exc, ValueError):  # a 2xx whose body is not JSON: maybe sent, maybe not
        return SendResult.failure(PROVIDER, f"unreadable answer: {exc}", retryable=True)
    if isinstance(exc, TwilioException):
        return SendResult.failure(PROVIDER, f"twilio: {exc}", retryable=False)
    raise exc


# Twilio's message and call statuses, in ours. Used for the answer to `create` and for
# status callbacks alike.
TWILIO_MESSAGE_STATUS: dict[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "receiving": DeliveryStatus.DELIVERED,
    "received": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}

TWILIO_CALL_STATUS: dict[str, DeliveryStatus] = {
    "queued": DeliveryStatus.QUEUED,
    "initiated": DeliveryStatus.QUEUED,
    "ringing": DeliveryStatus.SENT,
    "in-progress": DeliveryStatus.DELIVERED,
    "completed": DeliveryStatus.DELIVERED,  # answered; only keypad 1 acknowledges
    "busy": DeliveryStatus.FAILED,
    "no-answer": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}


def accepted(
    sid: str | None, twilio_status: str | None, table: dict[str, DeliveryStatus]
) -> SendResult:
    """The result for a create call Twilio answered with 2xx."""
    status = table.get(twilio_status or "queued", DeliveryStatus.QUEUED)
    if status is DeliveryStatus.FAILED:
        return SendResult.failure(
            PROVIDER, f"Twilio answered status {twilio_status}", retryable=False, provider_id=sid
        )
    return SendResult(PROVIDER, sid, status)
