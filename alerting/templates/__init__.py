"""Message templates: zh-CN by default, English available, as tables (see `catalog`).

    render(key, locale, form, AlertFacts(...)) -> Rendered(text, params, segments)

Keys are `alert.<kind>` (`alert_key(kind)`) and `escalation.reminder`; forms are the
shapes channels need (`Form`). SMS forms aim for one segment and shorten the address,
never the acknowledgement instruction (`sms`).
"""

from alerting.templates.catalog import (
    ALIYUN_TEMPLATES,
    KINDS,
    LAYOUTS,
    LOCALES,
    REMINDER_KEY,
    SMS_FORMS,
    TEMPLATES,
    AlertKind,
    AliyunTemplate,
    Form,
    Layout,
    alert_key,
    aliyun_template,
)
from alerting.templates.render import LOCAL_ZONE, AlertFacts, Rendered, render
from alerting.templates.replies import REPLIES, Replies
from alerting.templates.sms import aliyun_segments, sms_segments

__all__ = [
    "ALIYUN_TEMPLATES",
    "KINDS",
    "LAYOUTS",
    "LOCALES",
    "LOCAL_ZONE",
    "REMINDER_KEY",
    "REPLIES",
    "SMS_FORMS",
    "TEMPLATES",
    "AlertFacts",
    "AlertKind",
    "AliyunTemplate",
    "Form",
    "Layout",
    "Rendered",
    "Replies",
    "alert_key",
    "aliyun_segments",
    "aliyun_template",
    "render",
    "sms_segments",
]
