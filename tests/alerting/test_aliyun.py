"""Alibaba Cloud SMS specifics: the SDK's real signed SendSms request, as received by the
local endpoint — template code, JSON parameters, the number without +86 — and how
refusals are classified."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from alerting.notifiers.aliyun_sms import AliyunSmsConfig, AliyunSmsNotifier, mainland_number
from alerting.notifiers.base import DeliveryStatus, Message
from alerting.templates import (
    ALIYUN_TEMPLATES,
    REMINDER_KEY,
    AlertFacts,
    AlertKind,
    Form,
    Layout,
    render,
)
from core.vocabulary import Channel
from simulators.aliyun_sms_server import AliyunSmsServer
from tests.alerting.support import ABROAD, ALIYUN_CODES, MAINLAND, message

TEMPLATES = {
    ALIYUN_CODES["alert"]: ALIYUN_TEMPLATES[Layout.ALERT].content,
    ALIYUN_CODES["reminder"]: ALIYUN_TEMPLATES[Layout.REMINDER].content,
}


@pytest.fixture
def aliyun() -> Iterator[AliyunSmsServer]:
    with AliyunSmsServer(templates=TEMPLATES) as server:
        yield server


def notifier(aliyun: AliyunSmsServer, **overrides: object) -> AliyunSmsNotifier:
    fields: dict[str, object] = {
        "access_key_id": aliyun.access_key_id,
        "access_key_secret": aliyun.access_key_secret,
        "template_codes": ALIYUN_CODES,
        "endpoint": aliyun.endpoint,
        "protocol": "http",
    }
    return AliyunSmsNotifier(AliyunSmsConfig(**{**fields, **overrides}))  # type: ignore[arg-type]


def test_sendsms_carries_template_code_json_params_and_national_number(
    aliyun: AliyunSmsServer,
) -> None:
    msg = message(Channel.SMS, MAINLAND, Form.SMS_NO_REPLY)

    result = notifier(aliyun).send(msg)

    (received,) = aliyun.requests
    assert result.status == DeliveryStatus.QUEUED and result.provider_id == received.biz_id
    assert received.action == "SendSms"
    assert received.headers["x-acs-version"] == "2017-05-25"
    assert received.headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=")
    assert received.signature_valid
    assert received.phone_numbers == "13912345678"  # Alibaba Cloud wants no +86
    assert received.params["TemplateCode"] == ALIYUN_CODES["alert"]
    assert received.params["SignName"] == "暖心守护"
    assert received.template_param == {
        "elder": "张秀英",
        "event": "烟雾报警",
        "address": "东胜区天骄街道杭锦北路12号3单元502",
        "time": "11-28 08:15",
    }
    assert received.text == msg.text
    assert received.text is not None and received.text.endswith("请在App确认或接听来电按1")


def test_reminders_use_the_reminder_template(aliyun: AliyunSmsServer) -> None:
    facts = AlertFacts(
        AlertKind.GAS,
        "王桂兰",
        "康巴什区哈巴格希街道康城社区康馨雅苑小区15号楼2单元1101室",
        datetime(2026, 11, 28, 23, 40, tzinfo=UTC),
        attempt=3,
    )
    rendered = render(REMINDER_KEY, "zh-CN", Form.SMS_NO_REPLY, facts)
    msg = Message(
        9, Channel.SMS, MAINLAND, "zh-CN", rendered.text, rendered.key, 2, rendered.params
    )

    assert notifier(aliyun).send(msg).ok

    (received,) = aliyun.requests
    assert received.params["TemplateCode"] == ALIYUN_CODES["reminder"]
    assert received.template_param["attempt"] == "3"
    assert received.template_param["time"] == "11-29 07:40"
    assert received.text == msg.text


def test_flow_control_is_retryable_and_a_bad_number_is_not(aliyun: AliyunSmsServer) -> None:
    sms = notifier(aliyun)
    aliyun.fail_number("13912345678", "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控")
    limited = sms.send(message(Channel.SMS, MAINLAND, Form.SMS_NO_REPLY))
    aliyun.fail_number("13912345678", "isv.MOBILE_NUMBER_ILLEGAL")
    illegal = sms.send(message(Channel.SMS, MAINLAND, Form.SMS_NO_REPLY))

    assert (limited.status, limited.retryable) == (DeliveryStatus.FAILED, True)
    assert "isv.BUSINESS_LIMIT_CONTROL" in (limited.error or "")
    assert (illegal.status, illegal.retryable) == (DeliveryStatus.FAILED, False)


def test_outage_is_retryable(aliyun: AliyunSmsServer) -> None:
    aliyun.pause("error")

    result = notifier(aliyun).send(message(Channel.SMS, MAINLAND, Form.SMS_NO_REPLY))

    assert (result.status, result.retryable) == (DeliveryStatus.FAILED, True)
    assert "ServiceUnavailable" in (result.error or "")


def test_a_hanging_endpoint_times_out_as_retryable(aliyun: AliyunSmsServer) -> None:
    aliyun.pause("hang")
    try:
        result = notifier(aliyun, read_timeout_ms=300).send(
            message(Channel.SMS, MAINLAND, Form.SMS_NO_REPLY)
        )
    finally:
        aliyun.resume()

    assert (result.status, result.retryable, result.error) == (
        DeliveryStatus.FAILED,
        True,
        "network: timeout",
    )


def test_a_wrong_secret_fails_the_signature_for_good(aliyun: AliyunSmsServer) -> None:
    result = notifier(aliyun, access_key_secret="not-the-secret").send(
        message(Channel.SMS, MAINLAND, Form.SMS_NO_REPLY)
    )

    assert (result.status, result.retryable) == (DeliveryStatus.FAILED, False)
    assert "SignatureDoesNotMatch" in (result.error or "")
    assert aliyun.requests[-1].signature_valid is False


def test_numbers_outside_the_mainland_never_reach_aliyun(aliyun: AliyunSmsServer) -> None:
    result = notifier(aliyun).send(message(Channel.SMS, ABROAD, Form.SMS_NO_REPLY))

    assert (result.status, result.retryable) == (DeliveryStatus.FAILED, False)
    assert aliyun.requests == []


def test_an_unapproved_template_is_refused_before_sending(aliyun: AliyunSmsServer) -> None:
    result = notifier(aliyun, template_codes={"alert": ALIYUN_CODES["alert"]}).send(
        Message(3, Channel.SMS, MAINLAND, "zh-CN", "…", REMINDER_KEY, 1, {"attempt": "2"})
    )

    assert (result.status, result.retryable) == (DeliveryStatus.FAILED, False)
    assert "reminder" in (result.error or "")
    assert aliyun.requests == []


def test_a_variable_over_35_characters_is_refused(aliyun: AliyunSmsServer) -> None:
    msg = message(Channel.SMS, MAINLAND, Form.SMS_NO_REPLY)
    long_address = Message(
        msg.notification_id,
        msg.channel,
        msg.to,
        msg.locale,
        msg.text,
        msg.template,
        msg.alert_id,
        {**msg.params, "address": "鄂" * 36},
    )

    result = notifier(aliyun).send(long_address)

    assert (result.status, result.retryable) == (DeliveryStatus.FAILED, False)
    assert "isv.PARAM_LENGTH_LIMIT" in (result.error or "")


@pytest.mark.parametrize(
    ("e164", "national"),
    [("+8613912345678", "13912345678"), ("+85291234567", None), ("+14155550100", None)],
)
def test_mainland_number(e164: str, national: str | None) -> None:
    assert mainland_number(e164) == national


def test_a_restarted_endpoint_answers_on_the_same_port(aliyun: AliyunSmsServer) -> None:
    sms = notifier(aliyun)
    msg = message(Channel.SMS, MAINLAND, Form.SMS_NO_REPLY)

    aliyun.stop()
    down = sms.send(msg)
    aliyun.start()
    up = sms.send(msg)

    assert (down.status, down.retryable) == (DeliveryStatus.FAILED, True)
    assert up.ok and len(aliyun.sent()) == 1
