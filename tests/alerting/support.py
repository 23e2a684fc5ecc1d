"""Shared pieces of the alerting tests: a realistic alert and messages rendered from it."""

from datetime import UTC, datetime

from alerting.notifiers.base import Locale, Message
from alerting.templates import AlertFacts, AlertKind, Form, alert_key, render
from core.vocabulary import Channel

# 08:15 in Ordos
AT = datetime(2026, 11, 28, 0, 15, 2, tzinfo=UTC)
FACTS = AlertFacts(AlertKind.SMOKE, "张秀英", "东胜区天骄街道杭锦北路12号3单元502", AT, code=2)
FROM_NUMBER = "+15005550006"
MAINLAND = "+8613912345678"
ABROAD = "+4915112345678"

ALIYUN_CODES = {"alert": "SMS_471000001", "reminder": "SMS_471000002"}


def message(
    channel: Channel,
    to: str,
    form: Form,
    *,
    notification_id: int = 41,
    locale: Locale = "zh-CN",
    facts: AlertFacts = FACTS,
) -> Message:
    rendered = render(alert_key(facts.kind), locale, form, facts)
    return Message(
        notification_id=notification_id,
        channel=channel,
        to=to,
        locale=rendered.locale,
        text=rendered.text,
        template=rendered.key,
        alert_id=7,
        params=rendered.params,
    )
