"""What the platform answers a contact who acknowledges by SMS reply or by the keypad of a
voice call, per locale and per outcome (`AckOutcome`). SMS answers are one segment, even
with a long elder's name and a six-digit code; a list of several open alerts drops
detail (the event, then the name) before it takes a second segment.

The reply grammar the texts teach (parsed in `alerting.inbound`): an acknowledging word
(1, 收到, OK, 好, 确认 …), optionally followed by `#` and an alert's code — `1#23`,
`收到 #23`, `1 23`. Full-width characters count as their ASCII twins.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from alerting.notifiers.base import Locale
from alerting.templates.sms import sms_segments


class AckOutcome(StrEnum):
    """What one inbound SMS reply or key press did."""

    ACKNOWLEDGED = "acknowledged"  # it acknowledged the alert it named or was about
    AMBIGUOUS = "ambiguous"  # several open alerts were sent to the number, none named
    NOTHING_OPEN = "nothing_open"  # no open alert was sent to the number
    NOT_NOTIFIED = "not_notified"  # the code names an alert never sent to this number
    ALREADY_ACKNOWLEDGED = "already_acknowledged"  # someone acknowledged it before
    CLOSED = "closed"  # the alert is resolved
    DUPLICATE = "duplicate"  # the provider's message id was received before: a replay
    NOT_AN_ACK = "not_an_ack"  # chatter, or a key other than 1: nothing to answer
    WRONG_CALL = "wrong_call"  # a key press from a call that is not this notification's


@dataclass(frozen=True)
class Choice:
    """One open alert a person may pick, as an ambiguous reply lists it."""

    code: int
    elder: str
    event: str


# SMS answers; placeholders {code} {elder} {choices}. An outcome missing here sends no SMS.
SMS_ANSWERS: Final[dict[Locale, dict[AckOutcome, str]]] = {
    "zh-CN": {
        AckOutcome.ACKNOWLEDGED: (
            "已确认#{code}，谢谢！{elder}的警报由您处理，系统已停止通知其他联系人。"
        ),
        AckOutcome.AMBIGUOUS: "您有多条警报待确认：{choices}。请回复1#编号确认其中一条。",
        AckOutcome.NOTHING_OPEN: "目前没有需要您确认的警报，谢谢。",
        AckOutcome.NOT_NOTIFIED: "警报#{code}未通知过您的号码，未作确认。请核对编号。",
        AckOutcome.ALREADY_ACKNOWLEDGED: "警报#{code}已有人确认，无需重复确认，谢谢。",
        AckOutcome.CLOSED: "警报#{code}已处理完毕，无需确认，谢谢。",
        AckOutcome.DUPLICATE: "这条回复此前已收到并处理，无需重复发送，谢谢。",
    },
    "en": {
        AckOutcome.ACKNOWLEDGED: (
            "Confirmed #{code}, thank you. You are handling {elder}'s alert; "
            "nobody else will be called."
        ),
        AckOutcome.AMBIGUOUS: "Several alerts await you: {choices}. Reply 1#code to take one.",
        AckOutcome.NOTHING_OPEN: "There is no alert waiting for your confirmation. Thank you.",
        AckOutcome.NOT_NOTIFIED: (
            "Alert #{code} was not sent to your number; nothing was acknowledged. Check the code."
        ),
        AckOutcome.ALREADY_ACKNOWLEDGED: (
            "Alert #{code} is already acknowledged; no need to confirm again. Thank you."
        ),
        AckOutcome.CLOSED: "Alert #{code} has already been closed. Thank you.",
        AckOutcome.DUPLICATE: "This reply was already received and handled. Thank you.",
    },
}

# Spoken after a key press; an outcome missing here repeats the alert instead.
VOICE_ANSWERS: Final[dict[Locale, dict[AckOutcome, str]]] = {
    "zh-CN": {
        AckOutcome.ACKNOWLEDGED: "已确认，谢谢。请尽快前往老人家中。",
        AckOutcome.ALREADY_ACKNOWLEDGED: "该警报已有人确认，谢谢。",
        AckOutcome.CLOSED: "该警报已处理完毕，谢谢。",
        AckOutcome.DUPLICATE: "您的按键已收到，谢谢。",
        AckOutcome.WRONG_CALL: "该按键不属于本次通话，未作确认。",
    },
    "en": {
        AckOutcome.ACKNOWLEDGED: "Confirmed, thank you. Please go to the elder as soon as you can.",
        AckOutcome.ALREADY_ACKNOWLEDGED: "Someone has already acknowledged this alert. Thank you.",
        AckOutcome.CLOSED: "This alert has already been closed. Thank you.",
        AckOutcome.DUPLICATE: "Your key press was already received. Thank you.",
        AckOutcome.WRONG_CALL: "That key press does not belong to this call; nothing changed.",
    },
}

# How one open alert is listed, richest first; the first that keeps the SMS one segment
# wins, else the last (every code must be there even if it takes two segments).
CHOICE_FORMS: Final[dict[Locale, tuple[str, ...]]] = {
    "zh-CN": ("#{code}{elder}{event}", "#{code}{elder}", "#{code}"),
    "en": ("#{code} {elder} {event}", "#{code} {elder}", "#{code}"),
}
CHOICE_SEPARATOR: Final[dict[Locale, str]] = {"zh-CN": "；", "en": "; "}


def sms_answer(
    locale: Locale,
    outcome: AckOutcome,
    *,
    code: int | None = None,
    elder: str = "",
    choices: Sequence[Choice] = (),
) -> str | None:
    """The SMS that answers `outcome`, or None when it deserves no SMS."""
    template = SMS_ANSWERS[locale].get(outcome)
    if template is None:
        return None
    if outcome is not AckOutcome.AMBIGUOUS:
        return template.format(code=code, elder=elder.strip())
    text = ""
    for form in CHOICE_FORMS[locale]:
        listed = CHOICE_SEPARATOR[locale].join(
            form.format(code=c.code, elder=c.elder.strip(), event=c.event) for c in choices
        )
        text = template.format(choices=listed)
        if sms_segments(text) == 1:
            break
    return text


def voice_answer(locale: Locale, outcome: AckOutcome) -> str | None:
    """What the call says after a key press, or None to repeat the alert."""
    return VOICE_ANSWERS[locale].get(outcome)
