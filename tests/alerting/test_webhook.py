"""Webhook specifics: which format a URL gets, DingTalk and generic signatures, and how
answers are read."""

import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest

from alerting.notifiers.base import DeliveryStatus
from alerting.notifiers.webhook import (
    WebhookConfig,
    WebhookFormat,
    WebhookNotifier,
    WebhookRoute,
    route_for,
)
from alerting.templates import Form
from core.vocabulary import Channel
from tests.alerting.peers import HttpPeer
from tests.alerting.support import message


@pytest.fixture
def robot() -> Iterator[HttpPeer]:
    peer = HttpPeer(200, {"errcode": 0, "errmsg": "ok"})
    yield peer
    peer.stop()


@pytest.mark.parametrize(
    ("url", "fmt"),
    [
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", WebhookFormat.WECOM),
        ("https://oapi.dingtalk.com/robot/send?access_token=t", WebhookFormat.DINGTALK),
        ("https://hooks.example.cn/nuanxin", WebhookFormat.GENERIC),
        ("https://relay.example.cn/wecom/send?key=k", WebhookFormat.WECOM),  # configured row
    ],
)
def test_format_comes_from_the_route_table(url: str, fmt: WebhookFormat) -> None:
    routes = (WebhookRoute("https://relay.example.cn/wecom/", WebhookFormat.WECOM),)
    assert route_for(url, routes).format == fmt


def test_dingtalk_without_secret_sends_no_signature(robot: HttpPeer) -> None:
    notifier = WebhookNotifier(
        WebhookConfig(routes=(WebhookRoute(robot.url, WebhookFormat.DINGTALK),))
    )
    msg = message(Channel.WEBHOOK, robot.url + "/robot/send?access_token=t", Form.CHAT)

    assert notifier.send(msg).status == DeliveryStatus.SENT

    (received,) = robot.requests()
    assert received.query == {"access_token": "t"}
    assert received.json() == {"msgtype": "text", "text": {"content": msg.text}}
    assert "暖心守护" in msg.text  # the keyword a DingTalk robot can be told to require
    notifier.close()


def test_generic_webhook_is_signed_when_a_secret_is_configured(robot: HttpPeer) -> None:
    secret = "generic-secret"
    notifier = WebhookNotifier(
        WebhookConfig(routes=(WebhookRoute(robot.url, WebhookFormat.GENERIC, secret),))
    )
    msg = message(Channel.WEBHOOK, robot.url + "/hook", Form.CHAT)

    assert notifier.send(msg).ok

    (received,) = robot.requests()
    fields = dict(p.split("=", 1) for p in received.headers["X-Nuanxin-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), fields["t"].encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)
    assert json.loads(received.body)["text"] == msg.text
    notifier.close()


@pytest.mark.parametrize(
    ("status", "answer", "retryable"),
    [
        (429, {}, True),
        (502, {}, True),
        (404, {}, False),
        (200, "not the robot's JSON", True),
        (200, {"errcode": -1, "errmsg": "system busy"}, True),
        (200, {"errcode": 40008, "errmsg": "invalid message type"}, False),
    ],
)
def test_wecom_answers(robot: HttpPeer, status: int, answer: object, retryable: bool) -> None:
    robot.respond(status, answer)
    notifier = WebhookNotifier(
        WebhookConfig(routes=(WebhookRoute(robot.url, WebhookFormat.WECOM),))
    )
    url = robot.url + "/cgi-bin/webhook/send?key=secret-robot-key"

    result = notifier.send(message(Channel.WEBHOOK, url, Form.CHAT))

    assert (result.status, result.retryable) == (DeliveryStatus.FAILED, retryable)
    assert "secret-robot-key" not in (result.error or "")  # the URL is a credential
    notifier.close()


@pytest.mark.parametrize("url", ["ftp://example.cn/hook", "not a url", "http://"])
def test_a_bad_url_is_final(url: str) -> None:
    notifier = WebhookNotifier()

    result = notifier.send(message(Channel.WEBHOOK, url, Form.CHAT))

    assert (result.status, result.retryable) == (DeliveryStatus.FAILED, False)
    notifier.close()
