"""Twilio specifics: the requests the SDK sends, the TwiML of a call, and the callbacks
the local Twilio makes — signed so that `RequestValidator` accepts them and rejects
forgeries."""

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from alerting.notifiers.base import DeliveryStatus
from alerting.notifiers.twilio_http import (
    TWILIO_CALL_STATUS,
    TWILIO_MESSAGE_STATUS,
    RedirectingHttpClient,
    TwilioConfig,
)
from alerting.notifiers.twilio_sms import TwilioSmsNotifier
from alerting.notifiers.twilio_voice import TwilioVoiceNotifier
from alerting.templates import Form
from core.vocabulary import Channel
from simulators.twilio_server import TwilioServer, gather_action
from tests.alerting.peers import HttpPeer, Received
from tests.alerting.support import ABROAD, FROM_NUMBER, MAINLAND, message


@pytest.fixture
def app() -> Iterator[HttpPeer]:
    """The application's webhook side, receiving what Twilio posts."""
    peer = HttpPeer(200, {})
    yield peer
    peer.stop()


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    with TwilioServer(callback_delay_ms=10) as server:
        yield server


def config(twilio: TwilioServer, app: HttpPeer, **overrides: object) -> TwilioConfig:
    fields: dict[str, object] = {
        "account_sid": twilio.account_sid,
        "auth_token": twilio.auth_token,
        "from_number": FROM_NUMBER,
        "callback_base_url": app.url,
        "api_base_url": twilio.url,
    }
    return TwilioConfig(**{**fields, **overrides})  # type: ignore[arg-type]


def verifies(token: str, app: HttpPeer, received: Received) -> bool:
    validator = RequestValidator(token)
    url = app.url + received.path
    return bool(validator.validate(url, received.form, received.headers["X-Twilio-Signature"]))


def test_sms_request_carries_to_from_body_and_status_callback(
    twilio: TwilioServer, app: HttpPeer
) -> None:
    msg = message(Channel.SMS, ABROAD, Form.SMS_REPLY, locale="en")

    result = TwilioSmsNotifier(config(twilio, app)).send(msg)

    (sent,) = twilio.messages()
    assert result.provider_id == sent.sid and sent.sid and sent.sid.startswith("SM")
    assert result.status == DeliveryStatus.QUEUED
    assert sent.form["To"] == ABROAD
    assert sent.form["From"] == FROM_NUMBER
    assert sent.form["Body"] == msg.text and "Reply 1" in msg.text
    assert sent.form["StatusCallback"] == f"{app.url}/api/v1/webhooks/twilio/sms/41/status"
    assert sent.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"


def test_status_callbacks_are_signed_like_twilio_and_forgeries_are_not(
    twilio: TwilioServer, app: HttpPeer
) -> None:
    TwilioSmsNotifier(config(twilio, app)).send(message(Channel.SMS, MAINLAND, Form.SMS_REPLY))

    twilio.wait_for(lambda: len(app.requests()) == 2)
    callbacks = app.requests()

    assert [c.form["MessageStatus"] for c in callbacks] == ["sent", "delivered"]
    assert all(c.path == "/api/v1/webhooks/twilio/sms/41/status" for c in callbacks)
    assert all(verifies(twilio.auth_token, app, c) for c in callbacks)
    assert TWILIO_MESSAGE_STATUS[callbacks[-1].form["MessageStatus"]] == DeliveryStatus.DELIVERED

    genuine = callbacks[-1]
    forged_status = Received(
        genuine.method,
        genuine.path,
        genuine.headers,
        genuine.body.replace(b"MessageStatus=delivered", b"MessageStatus=failed"),
    )
    assert not verifies(twilio.auth_token, app, forged_status)
    assert not verifies("another-accounts-token", app, genuine)


def test_outcome_per_destination_number(twilio: TwilioServer, app: HttpPeer) -> None:
    twilio.set_message_outcome(MAINLAND, "undelivered", "30005")
    notifier = TwilioSmsNotifier(config(twilio, app))

    notifier.send(message(Channel.SMS, MAINLAND, Form.SMS_REPLY, notification_id=1))
    notifier.send(message(Channel.SMS, ABROAD, Form.SMS_REPLY, notification_id=2))
    twilio.wait_for(lambda: len(twilio.callbacks) == 4)

    final = {
        c.params["To"]: c.params for c in twilio.callbacks if c.params["MessageStatus"] != "sent"
    }
    assert final[MAINLAND]["MessageStatus"] == "undelivered"
    assert final[MAINLAND]["ErrorCode"] == "30005"
    assert final[ABROAD]["MessageStatus"] == "delivered" and "ErrorCode" not in final[ABROAD]
    assert all(c.status == 200 for c in twilio.callbacks)


def test_voice_twiml_gathers_one_key_and_repeats_in_chinese(
    twilio: TwilioServer, app: HttpPeer
) -> None:
    msg = message(Channel.VOICE, MAINLAND, Form.VOICE)

    result = TwilioVoiceNotifier(config(twilio, app)).send(msg)

    (call,) = twilio.calls()
    assert result.provider_id == call.sid and call.sid and call.sid.startswith("CA")
    assert call.form["StatusCallback"] == f"{app.url}/api/v1/webhooks/twilio/voice/41/status"
    root = ET.fromstring(call.form["Twiml"])
    gathers = root.findall("Gather")
    assert len(gathers) == 2  # said once, repeated once
    for gather in gathers:
        assert gather.attrib["numDigits"] == "1"
        assert gather.attrib["action"] == f"{app.url}/api/v1/webhooks/twilio/voice/41"
        (say,) = gather.findall("Say")
        assert say.attrib["language"] == "cmn-CN"
        assert say.text == msg.text
        assert "张秀英" in msg.text and "烟雾报警" in msg.text and "按1" in msg.text
    assert root[-1].tag == "Say"  # what the callee hears when no key was pressed


def test_english_call_speaks_english(twilio: TwilioServer, app: HttpPeer) -> None:
    msg = message(Channel.VOICE, ABROAD, Form.VOICE, locale="en")
    TwilioVoiceNotifier(config(twilio, app)).send(msg)

    say = ET.fromstring(twilio.calls()[0].form["Twiml"]).find("Gather/Say")
    assert say is not None and say.attrib["language"] == "en-US"
    assert "Press 1" in (say.text or "")


def test_keypad_one_reaches_the_gather_action_signed(twilio: TwilioServer, app: HttpPeer) -> None:
    TwilioVoiceNotifier(config(twilio, app)).send(message(Channel.VOICE, MAINLAND, Form.VOICE))
    call = twilio.calls()[0]
    assert gather_action(call.form["Twiml"]) == f"{app.url}/api/v1/webhooks/twilio/voice/41"

    posted = twilio.post_gather(call, digits="1")

    assert posted.status == 200
    keypad = next(r for r in app.requests() if r.form.get("Digits"))
    assert keypad.path == "/api/v1/webhooks/twilio/voice/41"
    assert keypad.form["Digits"] == "1" and keypad.form["CallSid"] == call.sid
    assert verifies(twilio.auth_token, app, keypad)


def test_call_outcome_no_answer_is_a_failed_delivery(twilio: TwilioServer, app: HttpPeer) -> None:
    twilio.set_call_outcome(MAINLAND, "no-answer")
    TwilioVoiceNotifier(config(twilio, app)).send(message(Channel.VOICE, MAINLAND, Form.VOICE))

    (status,) = twilio.wait_for(lambda: app.requests())

    assert status.path == "/api/v1/webhooks/twilio/voice/41/status"
    assert status.form["CallStatus"] == "no-answer"
    assert TWILIO_CALL_STATUS[status.form["CallStatus"]] == DeliveryStatus.FAILED
    assert verifies(twilio.auth_token, app, status)


def test_inbound_sms_reply_is_signed(twilio: TwilioServer, app: HttpPeer) -> None:
    url = app.url + "/api/v1/webhooks/twilio/sms/inbound"

    twilio.post_inbound_sms(url, from_=MAINLAND, body="1", to=FROM_NUMBER)

    (reply,) = app.requests()
    assert reply.form["From"] == MAINLAND and reply.form["Body"] == "1"
    assert reply.form["MessageSid"].startswith("SM")
    assert verifies(twilio.auth_token, app, reply)


def test_wrong_credentials_are_refused_for_good(twilio: TwilioServer, app: HttpPeer) -> None:
    notifier = TwilioSmsNotifier(config(twilio, app, auth_token="not-the-token"))

    result = notifier.send(message(Channel.SMS, MAINLAND, Form.SMS_REPLY))

    assert result.status == DeliveryStatus.FAILED and not result.retryable
    assert "20003" in (result.error or "")
    assert twilio.requests[-1].status == 401 and not twilio.messages()


def test_a_hanging_twilio_times_out_as_retryable(twilio: TwilioServer, app: HttpPeer) -> None:
    twilio.pause("hang")
    notifier = TwilioSmsNotifier(config(twilio, app, timeout_s=0.3))
    try:
        result = notifier.send(message(Channel.SMS, MAINLAND, Form.SMS_REPLY))
    finally:
        twilio.resume()

    assert result.status == DeliveryStatus.FAILED and result.retryable
    assert result.error == "network: timeout"
    twilio.wait_for(lambda: twilio.messages())  # the hung request completes after resume


def test_redirect_keeps_path_and_auth_for_every_twilio_domain(twilio: TwilioServer) -> None:
    client = RedirectingHttpClient(twilio.url, timeout=2)
    auth = (twilio.account_sid, twilio.auth_token)

    for url in (
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Usage.json",
        "https://messaging.twilio.com/v1/Services",
        "https://voice.twilio.com/v1/DialingPermissions",
    ):
        client.request("POST", url, data={"x": "1"}, auth=auth)

    paths = [r.path for r in twilio.requests]
    assert paths == [
        "/2010-04-01/Accounts/AC1/Usage.json",
        "/v1/Services",
        "/v1/DialingPermissions",
    ]
    assert all(r.headers["Authorization"].startswith("Basic ") for r in twilio.requests)


def test_wait_for_gives_up_with_timeout_error(twilio: TwilioServer) -> None:
    with pytest.raises(TimeoutError):
        twilio.wait_for(lambda: twilio.messages(), timeout=0.05)


def test_callbacks_only_on_demand_when_delay_is_none(app: HttpPeer) -> None:
    with TwilioServer(callback_delay_ms=None) as twilio:
        TwilioSmsNotifier(config(twilio, app)).send(message(Channel.SMS, MAINLAND, Form.SMS_REPLY))
        assert app.requests() == []

        sent = twilio.send_status_callbacks(twilio.messages()[0])

    assert [c.params["MessageStatus"] for c in sent] == ["sent", "delivered"]
    assert len(app.requests()) == 2


def test_a_restarted_twilio_answers_on_the_same_url(twilio: TwilioServer, app: HttpPeer) -> None:
    notifier = TwilioSmsNotifier(config(twilio, app))
    msg = message(Channel.SMS, MAINLAND, Form.SMS_REPLY)
    url = twilio.url

    twilio.stop()
    down = notifier.send(msg)
    twilio.start()
    up = notifier.send(msg)

    assert (down.status, down.retryable) == (DeliveryStatus.FAILED, True)
    assert up.ok and twilio.url == url
    twilio.wait_for(lambda: len(app.requests()) == 2)  # callbacks work after the restart
