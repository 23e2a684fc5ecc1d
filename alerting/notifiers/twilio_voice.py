"""Voice calls through Twilio: `Client.calls.create` with inline TwiML.

The call speaks the alert and listens for one key while it speaks (`<Gather>` around
`<Say>`), so a responder who has heard enough presses 1 at once; it says it all a second
time before giving up. Keypad 1 posts to the Gather action, which acknowledges.
"""

from dataclasses import dataclass

from twilio.rest import Client  # type: ignore[import-untyped]  # twilio ships no type hints
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from alerting.notifiers.base import Locale, Message, SendResult
from alerting.notifiers.callbacks import CallbackPath, callback_url
from alerting.notifiers.twilio_http import (
    PROVIDER,
    TWILIO_CALL_STATUS,
    TwilioConfig,
    accepted,
    twilio_client,
    twilio_failure,
)
from core.vocabulary import Channel


@dataclass(frozen=True)
class Voice:
    language: str  # <Say language>
    voice: str  # Twilio's default voice ("man") cannot speak cmn-CN: name one that can
    goodbye: str


VOICES: dict[Locale, Voice] = {
    "zh-CN": Voice("cmn-CN", "Polly.Zhiyu", "未收到确认，我们将继续通知其他联系人。再见。"),
    "en": Voice(
        "en-US", "Polly.Joanna", "No key pressed. We will notify the next contact. Goodbye."
    ),
}

SAYINGS = 2  # the alert is said once and repeated once
GATHER_TIMEOUT_S = 6  # silence after the text before the next repetition
RING_TIMEOUT_S = 30  # then "no-answer", and escalation moves on


def alert_twiml(message: Message, callback_base_url: str) -> str:
    voice = VOICES[message.locale]
    action = callback_url(
        callback_base_url, CallbackPath.TWILIO_VOICE_GATHER, message.notification_id
    )
    response = VoiceResponse()
    for _ in range(SAYINGS):
        gather = response.gather(
            num_digits=1, action=action, method="POST", timeout=GATHER_TIMEOUT_S
        )
        gather.say(message.text, language=voice.language, voice=voice.voice)
    response.say(voice.goodbye, language=voice.language, voice=voice.voice)
    return str(response)


class TwilioVoiceNotifier:
    channel = Channel.VOICE
    name = PROVIDER

    def __init__(self, config: TwilioConfig, client: Client | None = None) -> None:
        self._config = config
        self._client = client or twilio_client(config)

    def send(self, message: Message) -> SendResult:
        try:
            created = self._client.calls.create(
                to=message.to,
                from_=self._config.from_number,
                twiml=alert_twiml(message, self._config.callback_base_url),
                status_callback=callback_url(
                    self._config.callback_base_url,
                    CallbackPath.TWILIO_VOICE_STATUS,
                    message.notification_id,
                ),
                timeout=RING_TIMEOUT_S,
            )
        except Exception as exc:  # twilio_failure re-raises what it cannot translate
            return twilio_failure(exc)
        return accepted(created.sid, created.status, TWILIO_CALL_STATUS)
