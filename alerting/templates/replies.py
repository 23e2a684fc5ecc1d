"""What the platform answers a contact who acknowledges by SMS reply or by the keypad of a
voice call, per locale. SMS answers are one segment, even with a long elder's name."""

from dataclasses import dataclass
from typing import Final

from alerting.notifiers.base import Locale


@dataclass(frozen=True)
class Replies:
    acknowledged: str  # SMS, with {elder}
    nothing_to_acknowledge: str  # SMS
    thanks: str  # spoken after keypad 1
    closed: str  # spoken when the alert was resolved meanwhile


REPLIES: Final[dict[Locale, Replies]] = {
    "zh-CN": Replies(
        "已确认，谢谢！{elder}的警报由您处理，系统已停止通知其他联系人。",
        "目前没有需要您确认的警报，谢谢。",
        "已确认，谢谢。请尽快前往老人家中。",
        "该警报已处理完毕，谢谢。",
    ),
    "en": Replies(
        "Confirmed, thank you. You are handling {elder}'s alert; nobody else will be called.",
        "There is no alert waiting for your confirmation. Thank you.",
        "Confirmed, thank you. Please go to the elder as soon as you can.",
        "This alert has already been closed. Thank you.",
    ),
}
