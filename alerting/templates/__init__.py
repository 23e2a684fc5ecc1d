"""Message templates: zh-CN by default, English available, as tables (see `catalog`).

    render(key, locale, form, AlertFacts(...)) -> Rendered(text, params, segments)

Keys are `alert.<kind>` (`alert_key(kind)`) and `escalation.reminder`; forms are the
shapes channels need (`Form`). Two-way SMS names the alert's code (its id) in the
acknowledgement instruction, `回复1#23确认`, so a reply can say which alert it answers;
`replies` holds what the platform answers such a reply or a key press. SMS forms aim
for one segment and shorten the address, never the acknowledgement instruction (`sms`).
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
from alerting.templates.replies import (
    SMS_ANSWERS,
    VOICE_ANSWERS,
    AckOutcome,
    Choice,
    sms_answer,
    voice_answer,
)
from alerting.templates.sms import aliyun_segments, sms_segments

__all__ = [
    "ALIYUN_TEMPLATES",
    "KINDS",
    "LAYOUTS",
    "LOCALES",
    "LOCAL_ZONE",
    "REMINDER_KEY",
    "SMS_ANSWERS",
    "SMS_FORMS",
    "TEMPLATES",
    "VOICE_ANSWERS",
    "AckOutcome",
    "AlertFacts",
    "AlertKind",
    "AliyunTemplate",
    "Choice",
    "Form",
    "Layout",
    "Rendered",
    "alert_key",
    "aliyun_segments",
    "aliyun_template",
    "render",
    "sms_answer",
    "sms_segments",
    "voice_answer",
]
