"""Webhooks: WeCom (企业微信) and DingTalk (钉钉) group robots, and generic JSON.

`Message.to` is the webhook URL. Its format comes from a table of URL prefixes
(`WebhookRoute`): the robots' public hosts by default, anything else generic JSON; a
deployment adds rows for robots behind a proxy or with a signing secret. Each format is
one row of FORMATS — body, signing, reading the answer — not a branch.

- WeCom: `{"msgtype": "text", "text": {"content": …}}`; answers `{"errcode": 0, …}`.
- DingTalk: the same body. A robot with "加签" security needs `timestamp` (ms) and
  `sign` = base64(HMAC-SHA256(key=secret, f"{timestamp}\\n{secret}")) in the query; a
  robot with "自定义关键词" security needs the keyword in the text: use "暖心守护"
  (every zh-CN text carries it) and "Nuanxin" (every English one). Answers `errcode`.
- Generic: the Message as JSON, with `Idempotency-Key: nuanxin-notification-{id}`;
  with a secret, `X-Nuanxin-Signature: t={unix},v1={hex HMAC-SHA256(secret, "{t}.{body}")}`
  so the receiver can check origin and freshness. Any 2xx is success.

Errors never echo the URL: robot URLs carry their access token.
"""

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from alerting.notifiers.base import DeliveryStatus, Message, SendResult, http_status_retryable
from core.vocabulary import Channel

PROVIDER = "webhook"


class WebhookFormat(StrEnum):
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    GENERIC = "generic"


@dataclass(frozen=True)
class WebhookRoute:
    prefix: str  # the first route whose prefix starts the URL decides
    format: WebhookFormat
    secret: str | None = None  # DingTalk 加签 secret, or the generic signature key


DEFAULT_ROUTES = (
    WebhookRoute("https://qyapi.weixin.qq.com/", WebhookFormat.WECOM),
    WebhookRoute("https://oapi.dingtalk.com/", WebhookFormat.DINGTALK),
)


@dataclass(frozen=True)
class WebhookConfig:
    routes: tuple[WebhookRoute, ...] = ()  # consulted before DEFAULT_ROUTES
    timeout_s: float = 5.0  # a robot that takes longer is down; the pipeline retries
    connect_timeout_s: float = 3.0


def route_for(url: str, routes: tuple[WebhookRoute, ...]) -> WebhookRoute:
    for route in (*routes, *DEFAULT_ROUTES):
        if url.startswith(route.prefix):
            return route
    return WebhookRoute("", WebhookFormat.GENERIC)


Json = dict[str, Any]
Signed = tuple[httpx.URL, dict[str, str]]


def _robot_body(message: Message) -> Json:
    return {"msgtype": "text", "text": {"content": message.text}}


def _generic_body(message: Message) -> Json:
    return {**dataclasses.asdict(message), "channel": str(message.channel)}


def _no_signature(url: httpx.URL, body: bytes, message: Message, secret: str | None) -> Signed:
    return url, {}


def _dingtalk_signature(
    url: httpx.URL, body: bytes, message: Message, secret: str | None
) -> Signed:
    if not secret:
        return url, {}
    timestamp = str(int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    sign = base64.b64encode(digest.digest()).decode()
    return url.copy_merge_params({"timestamp": timestamp, "sign": sign}), {}


def _generic_signature(url: httpx.URL, body: bytes, message: Message, secret: str | None) -> Signed:
    headers = {"Idempotency-Key": f"nuanxin-notification-{message.notification_id}"}
    if secret:
        t = str(int(time.time()))
        mac = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers["X-Nuanxin-Signature"] = f"t={t},v1={mac}"
    return url, headers


Verdict = tuple[bool, bool, str | None]  # (delivered, retryable, error)


def _robot_verdict(retryable_codes: frozenset[int]) -> Callable[[httpx.Response], Verdict]:
    def verdict(response: httpx.Response) -> Verdict:
        try:
            answer = response.json()
            code = int(answer["errcode"])
        except (ValueError, KeyError, TypeError):
            # A 200 that is not the robot's JSON: a proxy or portal answered instead.
            return False, True, f"unreadable answer (HTTP {response.status_code})"
        if code == 0:
            return True, False, None
        return False, code in retryable_codes, f"errcode {code}: {answer.get('errmsg', '')}"

    return verdict


def _generic_verdict(response: httpx.Response) -> Verdict:
    return True, False, None  # any 2xx; other statuses never reach a verdict


@dataclass(frozen=True)
class Format:
    body: Callable[[Message], Json]
    sign: Callable[[httpx.URL, bytes, Message, str | None], Signed]
    verdict: Callable[[httpx.Response], Verdict]


FORMATS: dict[WebhookFormat, Format] = {
    WebhookFormat.WECOM: Format(
        _robot_body,
        _no_signature,
        _robot_verdict(frozenset({-1, 45009})),  # system busy; over 20 messages a minute
    ),
    WebhookFormat.DINGTALK: Format(
        _robot_body,
        _dingtalk_signature,
        _robot_verdict(frozenset({-1, 130101, 410100})),  # busy; over 20 messages a minute
    ),
    WebhookFormat.GENERIC: Format(_generic_body, _generic_signature, _generic_verdict),
}


class WebhookNotifier:
    channel = Channel.WEBHOOK
    name = PROVIDER

    def __init__(self, config: WebhookConfig | None = None) -> None:
        self._config = config or WebhookConfig()
        self._http = httpx.Client(
            timeout=httpx.Timeout(self._config.timeout_s, connect=self._config.connect_timeout_s),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def send(self, message: Message) -> SendResult:
        route = route_for(message.to, self._config.routes)
        fmt = FORMATS[route.format]
        body = json.dumps(fmt.body(message), ensure_ascii=False).encode()
        try:
            url, headers = fmt.sign(httpx.URL(message.to), body, message, route.secret)
            if url.scheme not in ("http", "https") or not url.host:
                raise httpx.InvalidURL("not an http(s) URL")
        except httpx.InvalidURL as exc:
            return SendResult.failure(PROVIDER, f"bad webhook URL: {exc}", retryable=False)
        host = url.host
        try:
            response = self._http.post(
                url, content=body, headers={"Content-Type": "application/json", **headers}
            )
        except httpx.TransportError as exc:
            return SendResult.failure(
                PROVIDER, f"{route.format} {host}: {type(exc).__name__}", retryable=True
            )
        if not response.is_success:
            return SendResult.failure(
                PROVIDER,
                f"{route.format} {host}: HTTP {response.status_code}",
                retryable=http_status_retryable(response.status_code),
            )
        delivered, retryable, error = fmt.verdict(response)
        if not delivered:
            return SendResult.failure(
                PROVIDER, f"{route.format} {host}: {error}", retryable=retryable
            )
        return SendResult(PROVIDER, None, DeliveryStatus.SENT)
