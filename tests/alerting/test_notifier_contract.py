"""The contract every notifier keeps, run against each one's local peer over real HTTP
(for app push, the PostgreSQL channel every API process listens on):

- a send reaches the provider, which records exactly what the real provider would get;
- a refusal that will repeat (bad number, bad URL, …) is a failed, non-retryable result;
- a refusal that may pass (503, rate limit, flow control) is failed and retryable;
- an unreachable provider is failed and retryable — and never an exception.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from alerting.notifiers.aliyun_sms import AliyunSmsConfig, AliyunSmsNotifier
from alerting.notifiers.base import DeliveryStatus, Message, Notifier
from alerting.notifiers.pg_push import PgPushNotifier
from alerting.notifiers.twilio_http import TwilioConfig
from alerting.notifiers.twilio_sms import TwilioSmsNotifier
from alerting.notifiers.twilio_voice import TwilioVoiceNotifier, alert_twiml
from alerting.notifiers.webhook import WebhookConfig, WebhookFormat, WebhookNotifier, WebhookRoute
from alerting.templates import ALIYUN_TEMPLATES, Form, Layout
from core import notify_channels
from core.vocabulary import Channel
from simulators.aliyun_sms_server import AliyunSmsServer
from simulators.twilio_server import TwilioServer
from tests.alerting.peers import HttpPeer, dingtalk_sign
from tests.alerting.support import ALIYUN_CODES, FROM_NUMBER, MAINLAND, message
from tests.support.servers import throwaway_database

CALLBACK_BASE = "https://nuanxin.example.cn"
DINGTALK_SECRET = "SEC-local-dingtalk-secret"


@dataclass
class Peer:
    notifier: Notifier
    message: Message
    received: Callable[[], list[Any]]  # what the provider got, one entry per request
    expected: Any  # exactly what it must have got for `message`
    reject: Callable[[], None]  # the provider will refuse this message again and again
    overload: Callable[[], None]  # the provider refuses it for now
    down: Callable[[], None]  # the provider cannot be reached


@contextmanager
def twilio_sms() -> Iterator[Peer]:
    with TwilioServer(callback_delay_ms=None) as twilio:
        config = TwilioConfig(
            twilio.account_sid, twilio.auth_token, FROM_NUMBER, CALLBACK_BASE, twilio.url
        )
        msg = message(Channel.SMS, MAINLAND, Form.SMS_REPLY)
        yield Peer(
            TwilioSmsNotifier(config),
            msg,
            received=lambda: [r.form for r in twilio.messages()],
            expected={
                "To": MAINLAND,
                "From": FROM_NUMBER,
                "Body": msg.text,
                "StatusCallback": f"{CALLBACK_BASE}/api/v1/webhooks/twilio/sms/41/status",
            },
            reject=lambda: twilio.reject(MAINLAND, 400, 21211),
            overload=lambda: twilio.pause("error"),
            down=twilio.stop,
        )


@contextmanager
def twilio_voice() -> Iterator[Peer]:
    with TwilioServer(callback_delay_ms=None) as twilio:
        config = TwilioConfig(
            twilio.account_sid, twilio.auth_token, FROM_NUMBER, CALLBACK_BASE, twilio.url
        )
        msg = message(Channel.VOICE, MAINLAND, Form.VOICE)
        yield Peer(
            TwilioVoiceNotifier(config),
            msg,
            received=lambda: [r.form for r in twilio.calls()],
            expected={
                "To": MAINLAND,
                "From": FROM_NUMBER,
                "Twiml": alert_twiml(msg, CALLBACK_BASE),
                "StatusCallback": f"{CALLBACK_BASE}/api/v1/webhooks/twilio/voice/41/status",
                "Timeout": "30",
            },
            reject=lambda: twilio.reject(MAINLAND, 400, 21211),
            overload=lambda: twilio.pause("error"),
            down=twilio.stop,
        )


@contextmanager
def aliyun_sms() -> Iterator[Peer]:
    templates = {
        ALIYUN_CODES["alert"]: ALIYUN_TEMPLATES[Layout.ALERT].content,
        ALIYUN_CODES["reminder"]: ALIYUN_TEMPLATES[Layout.REMINDER].content,
    }
    with AliyunSmsServer(templates=templates) as aliyun:
        config = AliyunSmsConfig(
            aliyun.access_key_id,
            aliyun.access_key_secret,
            template_codes=ALIYUN_CODES,
            endpoint=aliyun.endpoint,
            protocol="http",
        )
        msg = message(Channel.SMS, MAINLAND, Form.SMS_NO_REPLY)
        yield Peer(
            AliyunSmsNotifier(config),
            msg,
            received=lambda: [
                ({**r.params, "TemplateParam": r.template_param}, r.signature_valid, r.text)
                for r in aliyun.requests
            ],
            expected=(
                {
                    "PhoneNumbers": "13912345678",
                    "SignName": "暖心守护",
                    "TemplateCode": ALIYUN_CODES["alert"],
                    "TemplateParam": msg.params,
                    "OutId": "41",
                },
                True,
                msg.text,  # the phone shows exactly the text we recorded
            ),
            reject=lambda: aliyun.fail_number("13912345678", "isv.MOBILE_NUMBER_ILLEGAL"),
            overload=lambda: aliyun.fail_number("13912345678", "isv.BUSINESS_LIMIT_CONTROL"),
            down=aliyun.stop,
        )


def _robot(
    fmt: WebhookFormat,
    path: str,
    refusal: int,
    rate_limit: int,
    secret: str | None,
    seen: Callable[[Any], Any],
    expected: Callable[[Message], Any],
) -> Callable[[], AbstractContextManager[Peer]]:
    @contextmanager
    def peer() -> Iterator[Peer]:
        robot = HttpPeer(200, {"errcode": 0, "errmsg": "ok"})
        notifier = WebhookNotifier(
            WebhookConfig(routes=(WebhookRoute(robot.url + "/", fmt, secret),), timeout_s=2)
        )
        msg = message(Channel.WEBHOOK, robot.url + path, Form.CHAT)
        try:
            yield Peer(
                notifier,
                msg,
                received=lambda: [seen(r) for r in robot.requests()],
                expected=expected(msg),
                reject=lambda: robot.respond(200, {"errcode": refusal, "errmsg": "refused"}),
                overload=lambda: robot.respond(200, {"errcode": rate_limit, "errmsg": "slow"}),
                down=robot.stop,
            )
        finally:
            notifier.close()
            robot.stop()

    return peer


def _text_body(msg: Message) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": msg.text}}


wecom = _robot(
    WebhookFormat.WECOM,
    "/cgi-bin/webhook/send?key=robot-key",
    93000,  # invalid webhook URL
    45009,  # over the robot's per-minute limit
    None,
    lambda r: (r.path, r.json()),
    lambda m: ("/cgi-bin/webhook/send?key=robot-key", _text_body(m)),
)

dingtalk = _robot(
    WebhookFormat.DINGTALK,
    "/robot/send?access_token=robot-token",
    310000,  # signature or keyword mismatch
    130101,  # sending too fast
    DINGTALK_SECRET,
    lambda r: (
        r.query["access_token"],
        r.query["sign"] == dingtalk_sign(r.query["timestamp"], DINGTALK_SECRET),
        r.json(),
    ),
    lambda m: ("robot-token", True, _text_body(m)),
)


@contextmanager
def generic_webhook() -> Iterator[Peer]:
    receiver = HttpPeer(200, {"ok": True})
    notifier = WebhookNotifier(WebhookConfig(timeout_s=2))
    msg = message(Channel.WEBHOOK, receiver.url + "/hooks/nuanxin", Form.CHAT)
    try:
        yield Peer(
            notifier,
            msg,
            received=lambda: [
                (r.path, r.headers["Idempotency-Key"], r.json()) for r in receiver.requests()
            ],
            expected=(
                "/hooks/nuanxin",
                "nuanxin-notification-41",
                {**asdict(msg), "channel": "webhook"},
            ),
            reject=lambda: receiver.respond(400, {"error": "unknown hook"}),
            overload=lambda: receiver.respond(503, {"error": "later"}),
            down=receiver.stop,
        )
    finally:
        notifier.close()
        receiver.stop()


@contextmanager
def pg_push() -> Iterator[Peer]:
    """What production uses: the engine NOTIFYs, every API process LISTENs."""
    with throwaway_database() as url, psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {notify_channels.PUSH}")
        pool = ConnectionPool(url, min_size=1, max_size=1, open=True)
        msg = message(Channel.APP, "user-7", Form.CHAT)
        peer = Peer(
            PgPushNotifier(pool),
            msg,
            received=lambda: [json.loads(n.payload) for n in listener.notifies(timeout=0.5)],
            expected={"user_id": "user-7", "notification_id": 41, "alert_id": 7, "text": msg.text},
            reject=lambda: None,
            overload=lambda: None,
            down=pool.close,
        )
        # The refusal that repeats: a text PostgreSQL will never carry (NOTIFY < 8,000 bytes).
        peer.reject = lambda: setattr(peer, "message", replace(msg, text="长" * 3000))
        try:
            yield peer
        finally:
            pool.close()


# A database NOTIFY has no "try later" answer: it is sent, refused for good, or the
# database is unreachable. These peers are left out of the transient-refusal test only.
NO_TRANSIENT_REFUSAL = {"pg_push"}

PEERS: dict[str, Callable[[], AbstractContextManager[Peer]]] = {
    "twilio_sms": twilio_sms,
    "twilio_voice": twilio_voice,
    "aliyun_sms": aliyun_sms,
    "wecom": wecom,
    "dingtalk": dingtalk,
    "generic_webhook": generic_webhook,
    "pg_push": pg_push,
}


@pytest.fixture(params=sorted(PEERS))
def peer(request: pytest.FixtureRequest) -> Iterator[Peer]:
    with PEERS[request.param]() as p:
        yield p


def test_send_reaches_the_provider_exactly(peer: Peer) -> None:
    result = peer.notifier.send(peer.message)

    assert result.ok, result.error
    assert result.status in (DeliveryStatus.QUEUED, DeliveryStatus.SENT)
    assert (result.retryable, result.error) == (False, None)
    assert result.provider == peer.notifier.name
    assert peer.notifier.channel == peer.message.channel
    assert peer.received() == [peer.expected]


def test_a_refusal_that_will_repeat_is_final(peer: Peer) -> None:
    peer.reject()

    result = peer.notifier.send(peer.message)

    assert result.status == DeliveryStatus.FAILED
    assert result.retryable is False
    assert result.error


@pytest.mark.parametrize("name", sorted(set(PEERS) - NO_TRANSIENT_REFUSAL))
def test_a_refusal_that_may_pass_is_retryable(name: str) -> None:
    with PEERS[name]() as peer:
        _refused_for_now(peer)


def _refused_for_now(peer: Peer) -> None:
    peer.overload()

    result = peer.notifier.send(peer.message)

    assert result.status == DeliveryStatus.FAILED
    assert result.retryable is True
    assert result.error


def test_an_unreachable_provider_is_a_result_not_an_exception(peer: Peer) -> None:
    peer.down()

    result = peer.notifier.send(peer.message)

    assert result.status == DeliveryStatus.FAILED
    assert result.retryable is True
    assert result.error


def test_message_round_trips_as_json() -> None:
    msg = message(Channel.SMS, MAINLAND, Form.SMS_REPLY)
    assert json.loads(json.dumps(asdict(msg), ensure_ascii=False))["channel"] == "sms"
