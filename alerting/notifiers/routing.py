"""Which SMS provider carries a number, as a table.

Why not Twilio for everything: in mainland China Twilio offers no two-way SMS (a reply
"1" never comes back, so "回复1确认" would be a lie), carriers there reject repeated
identical messages (escalation reminders are exactly that) and deliver only pre-approved
templates. Alibaba Cloud SMS sends approved templates with parameters to mainland
numbers; it carries no replies either, so its texts ask for the app or keypad 1 in the
call (Form.SMS_NO_REPLY). Twilio stays the default: family abroad, Hong Kong, Macau,
Taiwan (none of them start with +86), and mainland numbers when no Alibaba Cloud account
is configured.

The first row whose prefix starts the number and whose provider is configured wins.
"""

from dataclasses import dataclass

from alerting.notifiers.base import Locale
from alerting.templates import Form


@dataclass(frozen=True)
class SmsRoute:
    prefix: str  # E.164 prefix; "" matches every number
    provider: str  # a notifier's `name`
    form: Form  # the text shape the provider can carry
    locale: Locale | None = None  # the only language the provider's templates exist in


SMS_ROUTES: tuple[SmsRoute, ...] = (
    # mainland templates are approved in Chinese only
    SmsRoute("+86", "aliyun", Form.SMS_NO_REPLY, "zh-CN"),
    SmsRoute("", "twilio", Form.SMS_REPLY),
)


class NoSmsRoute(LookupError):
    """No configured provider carries this number."""


def sms_route(number: str, configured: frozenset[str] | set[str]) -> SmsRoute:
    """The route for `number` among the `configured` provider names.

    Raises NoSmsRoute when none of them can carry it.
    """
    for route in SMS_ROUTES:
        if number.startswith(route.prefix) and route.provider in configured:
            return route
    raise NoSmsRoute(f"no configured SMS provider carries {number}")


def message_locale(route: SmsRoute, preferred: Locale) -> Locale:
    """The language to render in: the contact's, unless the provider has only one."""
    return route.locale or preferred
