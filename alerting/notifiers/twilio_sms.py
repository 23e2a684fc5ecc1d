"""SMS through Twilio: `Client.messages.create`, with a status callback per notification.

Replies come back to the number's inbound webhook, so Twilio SMS carries "回复1#23确认"
(23: the alert's code).
"""

from twilio.rest import Client  # type: ignore[import-untyped]  # twilio ships no type hints

from alerting.notifiers.base import Message, SendResult
from alerting.notifiers.callbacks import CallbackPath, callback_url
from alerting.notifiers.twilio_http import (
    PROVIDER,
    TWILIO_MESSAGE_STATUS,
    TwilioConfig,
    accepted,
    twilio_client,
    twilio_failure,
)
from core.vocabulary import Channel


class TwilioSmsNotifier:
    channel = Channel.SMS
    name = PROVIDER

    def __init__(self, config: TwilioConfig, client: Client | None = None) -> None:
        self._config = config
        self._client = client or twilio_client(config)

    def send(self, message: Message) -> SendResult:
        try:
            created = self._client.messages.create(
                to=message.to,
                from_=self._config.from_number,
                body=message.text,
                status_callback=callback_url(
                    self._config.callback_base_url,
                    CallbackPath.TWILIO_SMS_STATUS,
                    message.notification_id,
                ),
            )
        except Exception as exc:  # twilio_failure re-raises what it cannot translate
            return twilio_failure(exc)
        return accepted(created.sid, created.status, TWILIO_MESSAGE_STATUS)
