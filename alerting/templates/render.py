"""Rendering: facts about one alert + (template key, locale, form) → text and parameters."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerting.notifiers.base import Locale
from alerting.templates.catalog import KINDS, SIGNS, TEMPLATES, AlertKind, Form, Layout
from alerting.templates.sms import (
    ALIYUN_PARAM_MAX,
    aliyun_segments,
    fit_address,
    sms_segments,
    strip_region,
)


def _local_zone() -> timezone | ZoneInfo:
    try:
        return ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:  # no tz database on the host; China keeps UTC+8, no DST
        return timezone(timedelta(hours=8), "CST")


LOCAL_ZONE = _local_zone()

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# (locale, spoken) → how a time reads. Written times are the short "11-28 08:15" every
# SMS can afford; spoken ones are what text-to-speech reads naturally.
TIME_FORMATS: dict[tuple[Locale, bool], Callable[[datetime], str]] = {
    ("zh-CN", False): lambda t: f"{t:%m-%d %H:%M}",
    ("zh-CN", True): lambda t: f"{t.month}月{t.day}日{t.hour}点{t.minute:02d}分",
    ("en", False): lambda t: f"{t:%m-%d %H:%M}",
    ("en", True): lambda t: f"{_MONTHS[t.month - 1]} {t.day} at {t:%H:%M}",
}


@dataclass(frozen=True)
class AlertFacts:
    """What every message about an alert must say."""

    kind: AlertKind
    elder: str
    address: str
    at: datetime  # when it happened; timezone-aware
    attempt: int = 1  # reminders: which notification of this alert this is
    code: int | None = None  # the alert's id: two-way SMS asks for it in the reply

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("AlertFacts.at must be timezone-aware")
        if self.attempt < 1:
            raise ValueError("AlertFacts.attempt starts at 1")


@dataclass(frozen=True)
class Rendered:
    key: str
    locale: Locale
    form: Form
    text: str
    params: dict[str, str]  # short strings for template-only providers (Aliyun)
    segments: int | None  # SMS forms: billed segments; None for voice and chat


def _segments(form: Form, text: str) -> int | None:
    if form is Form.SMS_REPLY:
        return sms_segments(text)
    if form is Form.SMS_NO_REPLY:
        return aliyun_segments(text)
    return None


def render(
    key: str, locale: Locale, form: Form, facts: AlertFacts, *, sign: str | None = None
) -> Rendered:
    """Render one message. `sign` overrides the SMS signature (Alibaba Cloud prints the
    approved signature name in 【】, and its length counts against the 70 characters).

    Raises KeyError for a (key, locale, form) the catalogue does not hold, ValueError for
    facts that lack what the template needs (the code, for two-way SMS).
    """
    template = TEMPLATES[(key, locale, form)]
    if "{code}" in template.text and facts.code is None:
        raise ValueError(f"{key} as {form.value} names the alert's code: AlertFacts.code")
    kind = template.kind or facts.kind
    wording = KINDS[(kind, locale)]
    local = facts.at.astimezone(LOCAL_ZONE)
    fields = {
        "sign": SIGNS[locale] if sign is None else sign,
        "elder": facts.elder.strip(),
        "event": wording.event,
        "advice": wording.advice,
        "time": TIME_FORMATS[(locale, form is Form.VOICE)](local),
        "attempt": str(facts.attempt),
        "code": str(facts.code),
    }

    def fill(address: str) -> str:
        return template.text.format(address=address, **fields)

    address = facts.address.strip()
    if form is Form.VOICE:
        address = strip_region(address)  # every second of a call counts
    elif form is Form.SMS_REPLY:
        address = fit_address(address, lambda a: sms_segments(fill(a)) == 1)
    elif form is Form.SMS_NO_REPLY:
        address = fit_address(
            address, lambda a: len(a) <= ALIYUN_PARAM_MAX and aliyun_segments(fill(a)) == 1
        )
    text = fill(address)
    names = ["elder", "event", "address", "time"]
    if template.layout is Layout.REMINDER:
        names.insert(0, "attempt")
    params = {n: ({**fields, "address": address}[n])[:ALIYUN_PARAM_MAX] for n in names}
    return Rendered(key, locale, form, text, params, _segments(form, text))
