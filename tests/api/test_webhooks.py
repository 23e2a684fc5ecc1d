"""Twilio's webhooks end to end: the engine sends through the local Twilio server, which
calls the API (a real uvicorn) back with signed status callbacks, SMS replies and keypad
input. Forged, unsigned or re-addressed requests answer 403 and change nothing."""

import logging
from collections.abc import Iterator

import httpx
import pytest
from psycopg_pool import ConnectionPool

from alerting import lifecycle
from alerting.engine import utc_now
from alerting.notifiers.callbacks import CallbackPath, callback_url
from core.vocabulary import Outcome
from device_registry.provisioning import BrokerAdmin
from simulators.twilio_server import gather_action
from tests.support.api_alerts import (
    WORKER_PHONE,
    add_staff,
    alert_row,
    audit_rows,
    open_alert,
)
from tests.support.twilio_stack import TwilioStack, twilio_stack
from tests.support.world import World

INBOUND = CallbackPath.TWILIO_SMS_INBOUND


@pytest.fixture(scope="module")
def stack(
    database_url: str, pool: ConnectionPool, provisioner: BrokerAdmin, world: World
) -> Iterator[TwilioStack]:
    add_staff(pool, world)
    with twilio_stack(database_url, pool, provisioner) as stack:
        yield stack


@pytest.fixture
def alert(stack: TwilioStack, pool: ConnectionPool, world: World) -> Iterator[int]:
    """An emergency call of 王秀英, its first SMS sent to the community worker."""
    alert_id = open_alert(pool, world, "east_a", channels=stack.channels)
    stack.service.run_until_idle()
    yield alert_id
    stack.twilio.set_message_outcome(WORKER_PHONE, "delivered")
    stack.twilio.set_call_outcome(WORKER_PHONE, "completed")
    with pool.connection() as conn:
        if alert_row(pool, alert_id)["status"] != "resolved":
            lifecycle.resolve(conn, alert_id, "test", Outcome.OTHER, "", utc_now())


def test_status_callbacks_mark_the_sms_delivered(stack: TwilioStack, alert: int) -> None:
    [sms] = stack.notifications(alert, "sms")
    assert (sms["status"], sms["to_address"]) == ("queued", WORKER_PHONE)
    callbacks = stack.twilio.send_status_callbacks(stack.sent(sms["provider_id"]))
    assert [c.params["MessageStatus"] for c in callbacks] == ["sent", "delivered"]
    assert [c.status for c in callbacks] == [204, 204]
    assert stack.notifications(alert, "sms")[0]["status"] == "delivered"


def test_undelivered_sms_fails_and_falls_back_to_a_call_that_fails_too(
    stack: TwilioStack, alert: int
) -> None:
    [sms] = stack.notifications(alert, "sms")
    stack.twilio.set_message_outcome(WORKER_PHONE, "undelivered", "30006")
    stack.twilio.send_status_callbacks(stack.sent(sms["provider_id"]))
    [sms] = stack.notifications(alert, "sms")
    assert sms["status"] == "failed" and "30006" in sms["error"]
    [call] = stack.notifications(alert, "voice")
    assert (call["fallback_of"], call["to_address"], call["status"]) == (
        sms["id"],
        WORKER_PHONE,
        "pending",
    )

    stack.service.run_until_idle()  # the call goes out
    stack.twilio.set_call_outcome(WORKER_PHONE, "no-answer")
    [callback] = stack.twilio.send_status_callbacks(
        stack.sent(stack.notifications(alert, "voice")[0]["provider_id"])
    )
    assert callback.status == 204
    [call] = stack.notifications(alert, "voice")
    assert (call["status"], call["error"]) == ("failed", "call no-answer")


@pytest.mark.parametrize("reply", ["收到", "ＯＫ", "1"])
def test_an_sms_reply_acknowledges_the_senders_alert(
    stack: TwilioStack, alert: int, pool: ConnectionPool, reply: str
) -> None:
    callback = stack.twilio.post_inbound_sms(callback_url(stack.url, INBOUND), WORKER_PHONE, reply)
    assert callback.status == 200
    row = alert_row(pool, alert)
    assert row["status"] == "acknowledged"
    assert row["acknowledged_by"] == "contact:刘网格员 (+141****0101)"
    [entry] = audit_rows(pool, alert)
    assert (entry["actor"], entry["action"]) == (row["acknowledged_by"], "alert.acknowledge")
    assert entry["detail"]["via"] == "sms reply"


def test_the_reply_is_confirmed_in_chinese(stack: TwilioStack, alert: int) -> None:
    chatter = stack.reply(WORKER_PHONE, "你好")
    assert chatter.status_code == 200 and "<Message>" not in chatter.text
    ack = stack.reply(WORKER_PHONE, "好的")
    assert ack.headers["content-type"].startswith("application/xml")
    assert f"<Message>已确认#{alert}，谢谢！王秀英的警报由您处理" in ack.text
    again = stack.reply(WORKER_PHONE, "1")
    assert "<Message>目前没有需要您确认的警报" in again.text
    stranger = stack.reply("+14155550123", "1")
    assert "<Message>" not in stranger.text  # we never texted them: no SMS back


def test_a_reply_without_a_message_sid_is_refused(
    stack: TwilioStack, alert: int, pool: ConnectionPool
) -> None:
    """Without the provider's id a reply cannot be counted once, so it counts not at all."""
    response = stack.post(INBOUND.value, {"From": WORKER_PHONE, "Body": "1"})
    assert response.status_code == 400 and "MessageSid" in response.text
    assert alert_row(pool, alert)["status"] == "notified"


def test_keypad_1_acknowledges_and_other_keys_repeat_the_alert(
    stack: TwilioStack, alert: int, pool: ConnectionPool
) -> None:
    [sms] = stack.notifications(alert, "sms")
    stack.twilio.set_message_outcome(WORKER_PHONE, "failed", "30008")
    stack.twilio.send_status_callbacks(stack.sent(sms["provider_id"]))
    stack.service.run_until_idle()  # the fallback call
    [voice] = stack.notifications(alert, "voice")
    call = stack.sent(voice["provider_id"])

    assert stack.twilio.post_gather(call, digits="5").status == 200
    assert alert_row(pool, alert)["status"] == "notified"
    action = gather_action(call.form["Twiml"])
    repeat = stack.post(action.removeprefix(stack.url), {"CallSid": call.sid or "", "Digits": "5"})
    assert "<Gather" in repeat.text and "王秀英" in repeat.text

    thanks = stack.post(action.removeprefix(stack.url), {"CallSid": call.sid or "", "Digits": "1"})
    assert '<Say language="cmn-CN" voice="Polly.Zhiyu">已确认，谢谢' in thanks.text
    row = alert_row(pool, alert)
    assert row["status"] == "acknowledged" and row["acknowledged_by"].startswith("contact:刘网格员")
    assert audit_rows(pool, alert)[0]["detail"]["via"] == "keypad"


def test_unsigned_forged_or_readdressed_requests_answer_403_and_change_nothing(
    stack: TwilioStack, alert: int, pool: ConnectionPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="api.routes.webhooks")
    secret_body = "收到 我的电话13912345678"
    reply = {"From": WORKER_PHONE, "Body": secret_body}
    evil = "http://evil.example"
    attempts = [
        httpx.post(stack.url + INBOUND.value, data=reply),
        stack.post(INBOUND.value, reply, token="not-the-auth-token"),
        stack.post(
            INBOUND.value, reply, signed_url=evil + INBOUND.value, headers={"Host": "evil.example"}
        ),
    ]
    [sms] = stack.notifications(alert, "sms")
    status_path = CallbackPath.TWILIO_SMS_STATUS.value.format(notification_id=sms["id"])
    forged = {"MessageSid": sms["provider_id"], "MessageStatus": "failed", "ErrorCode": "30003"}
    attempts.append(stack.post(status_path, forged, token="not-the-auth-token"))

    assert [r.status_code for r in attempts] == [403, 403, 403, 403]
    assert alert_row(pool, alert)["status"] == "notified"
    assert stack.notifications(alert, "sms")[0]["status"] == "queued"
    assert stack.notifications(alert, "voice") == []
    assert audit_rows(pool, alert) == []
    warnings = [r.getMessage() for r in caplog.records if r.name == "api.routes.webhooks"]
    assert len(warnings) == 4 and INBOUND.value in warnings[0] and status_path in warnings[3]
    assert not any(secret_body in w or WORKER_PHONE in w for w in warnings)


def test_the_signed_url_comes_from_the_public_base_url_not_the_host_header(
    stack: TwilioStack, alert: int, pool: ConnectionPool
) -> None:
    """A proxy in front rewrites Host; Twilio signed the public URL, which still counts."""
    response = stack.reply(WORKER_PHONE, "1", Host="internal:8000")
    assert response.status_code == 200
    assert alert_row(pool, alert)["status"] == "acknowledged"
