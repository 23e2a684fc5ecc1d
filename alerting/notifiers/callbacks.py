"""Where providers call us back: one table, shared by the notifiers that hand these URLs
to providers and by the API routes that answer them.

Every URL carries our notification id, so a callback finds its row without looking up
provider ids, and a reply to the wrong notification cannot acknowledge another alert.
Inbound SMS is configured once on the Twilio number, so it carries no id; the reply
names the alert's code the SMS asked for (`1#23`), or the sender must have only one open
alert (`alerting.inbound`).
"""

from enum import StrEnum


class CallbackPath(StrEnum):
    TWILIO_SMS_STATUS = "/api/v1/webhooks/twilio/sms/{notification_id}/status"
    TWILIO_SMS_INBOUND = "/api/v1/webhooks/twilio/sms/inbound"
    TWILIO_VOICE_GATHER = "/api/v1/webhooks/twilio/voice/{notification_id}"
    TWILIO_VOICE_STATUS = "/api/v1/webhooks/twilio/voice/{notification_id}/status"


def callback_url(base_url: str, callback: CallbackPath, notification_id: int | None = None) -> str:
    """The absolute URL a provider must call; `base_url` is how the internet reaches us.

    Twilio signs exactly this string, so the API must rebuild the same one (scheme and
    host as the public base URL, not as the proxy in front of it saw them).
    """
    path = callback.value
    if "{notification_id}" in path:
        if notification_id is None:
            raise ValueError(f"{callback.name} needs a notification id")
        path = path.format(notification_id=notification_id)
    return base_url.rstrip("/") + path
