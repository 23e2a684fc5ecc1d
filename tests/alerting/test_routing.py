"""Which SMS provider carries a number."""

import pytest

from alerting.notifiers.routing import NoSmsRoute, message_locale, sms_route
from alerting.templates import Form

BOTH = frozenset({"twilio", "aliyun"})


@pytest.mark.parametrize(
    ("number", "configured", "provider", "form"),
    [
        ("+8613912345678", BOTH, "aliyun", Form.SMS_NO_REPLY),
        ("+8613912345678", frozenset({"twilio"}), "twilio", Form.SMS_REPLY),
        ("+85291234567", BOTH, "twilio", Form.SMS_REPLY),  # Hong Kong is not the mainland
        ("+886912345678", BOTH, "twilio", Form.SMS_REPLY),
        ("+4915112345678", BOTH, "twilio", Form.SMS_REPLY),
    ],
)
def test_route(number: str, configured: frozenset[str], provider: str, form: Form) -> None:
    route = sms_route(number, configured)
    assert (route.provider, route.form) == (provider, form)


def test_aliyun_speaks_only_approved_chinese() -> None:
    assert message_locale(sms_route("+8613912345678", BOTH), "en") == "zh-CN"
    assert message_locale(sms_route("+4915112345678", BOTH), "en") == "en"


def test_no_configured_provider() -> None:
    with pytest.raises(NoSmsRoute):
        sms_route("+4915112345678", frozenset({"aliyun"}))
