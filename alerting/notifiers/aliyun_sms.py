"""SMS to mainland China through Alibaba Cloud SMS (dysmsapi 2017-05-25, `SendSms`).

Mainland carriers deliver only approved templates under an approved signature, so this
notifier sends a template code and its parameters, never free text: `Message.params`
fill the template that `alerting.templates.aliyun_template(message.template)` names, and
the deployment maps that template's name to the code Alibaba Cloud assigned on approval.
Alibaba Cloud SMS carries no replies: its texts ask for acknowledgement in the app or
by keypad in the follow-up call.

The SDK signs each request (ACS3-HMAC-SHA256) and sends everything in the query string
of `POST /`, the action in the `x-acs-action` header. With `protocol="http"` and an
`endpoint` of host:port it sends exactly that to a local server.

Which refusals may pass (retryable) — everything else is a fault a retry repeats:
- `isv.BUSINESS_LIMIT_CONTROL`: the per-number frequency limit (per minute, hour, day).
  The minute and hour limits pass; the day limit does not, but one code covers all
  three, and the pipeline's bounded retries end in a fallback to another channel either
  way. Operators should raise the notification limits for the signature in the console.
- `isp.SYSTEM_ERROR`, `isp.GATEWAY_ERROR`, `isp.UNKNOWN`, `Throttling*`,
  `ServiceUnavailable`, `InternalError`, HTTP 429 and 5xx, and network errors.
- Not retryable, for example: `isv.MOBILE_NUMBER_ILLEGAL`, `isv.SMS_TEMPLATE_ILLEGAL`,
  `isv.SMS_SIGNATURE_ILLEGAL`, `isv.TEMPLATE_MISSING_PARAMETERS`, `isv.PARAM_LENGTH_LIMIT`,
  `isv.AMOUNT_NOT_ENOUGH`, `isv.OUT_OF_SERVICE`,
  `SignatureDoesNotMatch`, `InvalidAccessKeyId.NotFound`.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from alibabacloud_dysmsapi20170525 import models  # type: ignore[import-untyped]  # no hints
from alibabacloud_dysmsapi20170525.client import Client  # type: ignore[import-untyped]
from alibabacloud_tea_openapi.exceptions import (  # type: ignore[import-untyped]
    AlibabaCloudException,
    ThrottlingException,
)
from alibabacloud_tea_openapi.utils_models import Config  # type: ignore[import-untyped]
from darabonba.runtime import RuntimeOptions  # type: ignore[import-untyped]
from Tea.exceptions import TeaException, UnretryableException  # type: ignore[import-untyped]

from alerting.notifiers.base import (
    DeliveryStatus,
    Message,
    SendResult,
    http_status_retryable,
    network_reason,
)
from alerting.templates import aliyun_template
from core.vocabulary import Channel

PROVIDER = "aliyun"
MAINLAND_PREFIX = "+86"

RETRYABLE_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "isp.UNKNOWN",
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "ServiceUnavailable",
        "InternalError",
    }
)


@dataclass(frozen=True)
class AliyunSmsConfig:
    access_key_id: str
    access_key_secret: str
    sign_name: str = "暖心守护"  # the approved signature; the phone shows 【暖心守护】
    # approved template name ("alert", "reminder") → code Alibaba Cloud assigned, "SMS_…"
    template_codes: Mapping[str, str] = field(default_factory=dict)
    endpoint: str = "dysmsapi.aliyuncs.com"  # host[:port]; a local server in tests
    protocol: str = "https"  # "http" only for a local server
    connect_timeout_ms: int = 3_000
    read_timeout_ms: int = 10_000


def mainland_number(e164: str) -> str | None:
    """The 11-digit national number Alibaba Cloud expects, or None if not mainland."""
    if not e164.startswith(MAINLAND_PREFIX):
        return None
    national = e164.removeprefix(MAINLAND_PREFIX)
    return national if national.isdigit() else None


def aliyun_failure(exc: Exception) -> SendResult:
    """Translate what the SDK raised. Its HTTP errors are AlibabaCloudExceptions with the
    status and the service's code; network errors and unreadable answers arrive wrapped
    in UnretryableException (the SDK's name for "it gave up", not a verdict)."""
    if isinstance(exc, ThrottlingException):
        return SendResult.failure(PROVIDER, f"throttled: {exc.code}", retryable=True)
    if isinstance(exc, AlibabaCloudException):
        status = int(exc.status_code or 0)
        retryable = http_status_retryable(status) or exc.code in RETRYABLE_CODES
        return SendResult.failure(
            PROVIDER, f"HTTP {status} {exc.code}: {exc.message}", retryable=retryable
        )
    if isinstance(exc, UnretryableException | OSError):
        inner = getattr(exc, "inner_exception", None) or exc
        return SendResult.failure(PROVIDER, network_reason(inner), retryable=True)
    if isinstance(exc, TeaException):  # the SDK refused the request before sending it
        return SendResult.failure(PROVIDER, f"request refused by the SDK: {exc}", retryable=False)
    raise exc


class AliyunSmsNotifier:
    channel = Channel.SMS
    name = PROVIDER

    def __init__(self, config: AliyunSmsConfig, client: Client | None = None) -> None:
        self._config = config
        self._client = client or Client(
            Config(
                access_key_id=config.access_key_id,
                access_key_secret=config.access_key_secret,
                endpoint=config.endpoint,
                protocol=config.protocol,
            )
        )
        # No autoretry: retries and their backoff belong to the escalation pipeline.
        self._runtime = RuntimeOptions(
            autoretry=False,
            connect_timeout=config.connect_timeout_ms,
            read_timeout=config.read_timeout_ms,
        )

    def _refuse(self, why: str) -> SendResult:
        return SendResult.failure(PROVIDER, why, retryable=False)

    def send(self, message: Message) -> SendResult:
        phone = mainland_number(message.to)
        if phone is None:
            return self._refuse(f"not a mainland China number: {message.to}")
        template = aliyun_template(message.template)
        if template is None:
            return self._refuse(f"no Alibaba Cloud template carries {message.template}")
        code = self._config.template_codes.get(template.name)
        if code is None:
            return self._refuse(f"no approved template code configured for {template.name!r}")
        missing = [v for v in template.variables if v not in message.params]
        if missing:
            return self._refuse(f"template {template.name!r} lacks {', '.join(missing)}")
        request = models.SendSmsRequest(
            phone_numbers=phone,
            sign_name=self._config.sign_name,
            template_code=code,
            template_param=json.dumps(
                {v: message.params[v] for v in template.variables}, ensure_ascii=False
            ),
            out_id=str(message.notification_id),  # comes back in delivery receipts
        )
        try:
            response = self._client.send_sms_with_options(request, self._runtime)
        except Exception as exc:  # aliyun_failure re-raises what it cannot translate
            return aliyun_failure(exc)
        body = response.body
        if body.code != "OK":
            return SendResult.failure(
                PROVIDER,
                f"{body.code}: {body.message}",
                retryable=body.code in RETRYABLE_CODES,
                provider_id=body.biz_id,
            )
        return SendResult(PROVIDER, body.biz_id, DeliveryStatus.QUEUED)
