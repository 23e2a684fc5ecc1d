"""The message catalogue: every text the platform sends, as tables.

A new alert kind is one row in KINDS; a new layout is one row in LAYOUTS; TEMPLATES, the
table keyed by (template key, locale, form), is their product and is never edited by
hand. Placeholders: {sign} {elder} {event} {address} {time} {attempt} {advice} {code}.

Two-way SMS asks for a reply naming the alert's code (`回复1#23确认`): a person paged
about several alerts at once must be able to say which one they take, and a reply that
names its alert cannot be taken for another.

The zh-CN one-way SMS layouts are also the Alibaba Cloud templates submitted for
approval (ALIYUN_TEMPLATES derives them), so the text recorded for a notification is
the text the recipient's phone shows.
"""

from dataclasses import dataclass
from enum import StrEnum

from alerting.notifiers.base import Locale

LOCALES: tuple[Locale, ...] = ("zh-CN", "en")


class AlertKind(StrEnum):
    """The alert rules that page people; the rule names of the alert engine."""

    EMERGENCY_CALL = "emergency_call"
    SMOKE = "smoke"
    GAS = "gas"
    INACTIVITY = "inactivity"
    DEVICE_OFFLINE = "device_offline"
    LOW_BATTERY = "low_battery"
    TAMPER = "tamper"
    FAULT = "fault"


class Form(StrEnum):
    """The shape a channel needs."""

    SMS_REPLY = "sms_reply"  # two-way SMS (Twilio): a reply acknowledges; one segment
    SMS_NO_REPLY = "sms_no_reply"  # one-way SMS (Alibaba Cloud): app or keypad acknowledges
    VOICE = "voice"  # spoken by text-to-speech inside the call's keypad prompt
    CHAT = "chat"  # app push and WeCom/DingTalk robots: no length limit, no replies


SMS_FORMS = frozenset({Form.SMS_REPLY, Form.SMS_NO_REPLY})


@dataclass(frozen=True)
class Wording:
    event: str  # what happened, short: it goes into every SMS
    advice: str  # what the responder should do first (chat only)


KINDS: dict[tuple[AlertKind, Locale], Wording] = {
    (AlertKind.EMERGENCY_CALL, "zh-CN"): Wording("紧急呼叫", "请立即致电老人或上门查看"),
    (AlertKind.EMERGENCY_CALL, "en"): Wording("Emergency call", "Call the elder or go there now"),
    (AlertKind.SMOKE, "zh-CN"): Wording("烟雾报警", "可能发生火情，必要时拨打119"),
    (AlertKind.SMOKE, "en"): Wording("Smoke alarm", "Possible fire: call 119 if needed"),
    (AlertKind.GAS, "zh-CN"): Wording("燃气报警", "勿开关电器、勿动明火，开窗通风，必要时拨打119"),
    (AlertKind.GAS, "en"): Wording(
        "Gas alarm", "No switches, no flames, open the windows; call 119 if needed"
    ),
    (AlertKind.INACTIVITY, "zh-CN"): Wording("长时间无活动", "请致电老人确认平安，联系不上请上门"),
    (AlertKind.INACTIVITY, "en"): Wording(
        "No activity", "Call the elder; go there if there is no answer"
    ),
    (AlertKind.DEVICE_OFFLINE, "zh-CN"): Wording("设备离线", "请安排检查设备电源和网络"),
    (AlertKind.DEVICE_OFFLINE, "en"): Wording(
        "Device offline", "Have the device's power and network checked"
    ),
    (AlertKind.LOW_BATTERY, "zh-CN"): Wording("设备电量低", "请安排更换电池"),
    (AlertKind.LOW_BATTERY, "en"): Wording("Low battery", "Have the battery replaced"),
    (AlertKind.TAMPER, "zh-CN"): Wording("设备被拆动", "请核实设备是否被移动或拆下"),
    (AlertKind.TAMPER, "en"): Wording(
        "Device tampered", "Check whether the device was moved or removed"
    ),
    (AlertKind.FAULT, "zh-CN"): Wording("设备故障", "请安排检修"),
    (AlertKind.FAULT, "en"): Wording("Device fault", "Have the device repaired"),
}

SIGNS: dict[Locale, str] = {"zh-CN": "【暖心守护】", "en": "[Nuanxin] "}

# How to acknowledge, per form: Twilio carries replies; Alibaba Cloud SMS does not.
ACK: dict[tuple[Locale, Form], str] = {
    ("zh-CN", Form.SMS_REPLY): "回复1#{code}确认",
    ("zh-CN", Form.SMS_NO_REPLY): "请在App确认或接听来电按1",
    ("zh-CN", Form.VOICE): "确认处理请按1。",
    ("zh-CN", Form.CHAT): "请在App中确认处理。",
    ("en", Form.SMS_REPLY): "Reply 1#{code} to acknowledge",
    ("en", Form.SMS_NO_REPLY): "Acknowledge in the app or press 1 on our call",
    ("en", Form.VOICE): "Press 1 to acknowledge.",
    ("en", Form.CHAT): "Acknowledge in the Nuanxin app.",
}


class Layout(StrEnum):
    ALERT = "alert"
    REMINDER = "reminder"


LAYOUTS: dict[tuple[Layout, Locale, Form], str] = {
    (Layout.ALERT, "zh-CN", Form.SMS_REPLY): "{sign}{elder}家{event}：{address}，{time}。{ack}",
    (Layout.ALERT, "zh-CN", Form.SMS_NO_REPLY): "{sign}{elder}家{event}：{address}，{time}。{ack}",
    (Layout.ALERT, "zh-CN", Form.VOICE): (
        "暖心守护紧急通知。{elder}家，{event}。地址：{address}。时间：{time}。{ack}"
    ),
    (Layout.ALERT, "zh-CN", Form.CHAT): (
        "{sign}{event}\n老人：{elder}\n地址：{address}\n时间：{time}\n{advice}\n{ack}"
    ),
    (Layout.REMINDER, "zh-CN", Form.SMS_REPLY): (
        "{sign}第{attempt}次提醒：{elder}家{event}未确认，{address}，{time}。{ack}"
    ),
    (Layout.REMINDER, "zh-CN", Form.SMS_NO_REPLY): (
        "{sign}第{attempt}次提醒：{elder}家{event}未确认，{address}，{time}。{ack}"
    ),
    (Layout.REMINDER, "zh-CN", Form.VOICE): (
        "暖心守护第{attempt}次提醒。{elder}家，{event}，仍未确认。"
        "地址：{address}。时间：{time}。{ack}"
    ),
    (Layout.REMINDER, "zh-CN", Form.CHAT): (
        "{sign}第{attempt}次提醒：{event}仍未确认\n老人：{elder}\n地址：{address}\n"
        "时间：{time}\n{advice}\n{ack}"
    ),
    (
        Layout.ALERT,
        "en",
        Form.SMS_REPLY,
    ): "{sign}{event} at {elder}'s home: {address}, {time}. {ack}",
    (
        Layout.ALERT,
        "en",
        Form.SMS_NO_REPLY,
    ): "{sign}{event} at {elder}'s home: {address}, {time}. {ack}",
    (Layout.ALERT, "en", Form.VOICE): (
        "Nuanxin safety alert. {event} at the home of {elder}. "
        "Address: {address}. Time: {time}. {ack}"
    ),
    (Layout.ALERT, "en", Form.CHAT): (
        "{sign}{event}\nElder: {elder}\nAddress: {address}\nTime: {time}\n{advice}\n{ack}"
    ),
    (Layout.REMINDER, "en", Form.SMS_REPLY): (
        "{sign}Reminder {attempt}: {event} at {elder}'s home not acknowledged: {address}, "
        "{time}. {ack}"
    ),
    (Layout.REMINDER, "en", Form.SMS_NO_REPLY): (
        "{sign}Reminder {attempt}: {event} at {elder}'s home not acknowledged: {address}, "
        "{time}. {ack}"
    ),
    (Layout.REMINDER, "en", Form.VOICE): (
        "Nuanxin reminder number {attempt}. {event} at the home of {elder} "
        "is not acknowledged yet. Address: {address}. Time: {time}. {ack}"
    ),
    (Layout.REMINDER, "en", Form.CHAT): (
        "{sign}Reminder {attempt}: {event} not acknowledged yet\nElder: {elder}\n"
        "Address: {address}\nTime: {time}\n{advice}\n{ack}"
    ),
}

REMINDER_KEY = "escalation.reminder"


def alert_key(kind: AlertKind) -> str:
    return f"alert.{kind.value}"


@dataclass(frozen=True)
class Template:
    layout: Layout
    text: str  # the layout with the acknowledgement filled in
    kind: AlertKind | None  # fixed by the key for alerts; from the facts for reminders


def _template(layout: Layout, locale: Locale, form: Form, kind: AlertKind | None) -> Template:
    text = LAYOUTS[(layout, locale, form)].replace("{ack}", ACK[(locale, form)])
    return Template(layout, text, kind)


TEMPLATES: dict[tuple[str, Locale, Form], Template] = {
    **{
        (alert_key(kind), locale, form): _template(Layout.ALERT, locale, form, kind)
        for kind in AlertKind
        for locale in LOCALES
        for form in Form
    },
    **{
        (REMINDER_KEY, locale, form): _template(Layout.REMINDER, locale, form, None)
        for locale in LOCALES
        for form in Form
    },
}


@dataclass(frozen=True)
class AliyunTemplate:
    """A template as submitted for approval; the deployment configures its code."""

    name: str
    content: str  # Alibaba Cloud syntax, signature excluded: Aliyun prepends it
    variables: tuple[str, ...]


def _aliyun(layout: Layout, variables: tuple[str, ...]) -> AliyunTemplate:
    content = TEMPLATES[
        (REMINDER_KEY if layout is Layout.REMINDER else alert_key(AlertKind.EMERGENCY_CALL)),
        "zh-CN",
        Form.SMS_NO_REPLY,
    ].text.replace("{sign}", "")
    for name in variables:
        content = content.replace("{" + name + "}", "${" + name + "}")
    return AliyunTemplate(layout.value, content, variables)


# One approved template per layout, not per alert kind: the kind travels as ${event}, so a
# new alert kind needs no new approval.
ALIYUN_TEMPLATES: dict[Layout, AliyunTemplate] = {
    Layout.ALERT: _aliyun(Layout.ALERT, ("elder", "event", "address", "time")),
    Layout.REMINDER: _aliyun(Layout.REMINDER, ("attempt", "elder", "event", "address", "time")),
}


def aliyun_template(template_key: str) -> AliyunTemplate | None:
    """The approved Alibaba Cloud template that carries `template_key`, if any."""
    template = TEMPLATES.get((template_key, "zh-CN", Form.SMS_NO_REPLY))
    return None if template is None else ALIYUN_TEMPLATES[template.layout]
