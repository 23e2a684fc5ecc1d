"""Escalation as pure steps: given a policy, where the alert stands and the time, say
whom to page now and when to look again. The sweep stores the result (next_due_at), so
the ladder survives restarts and is climbed by whichever engine locks the alert.

    open ─▶ level 0 paged ─timeout─▶ level 1 ─timeout─▶ … last level ─repeat─▶ last level …
    acknowledged ─▶ climb stops; for alerts that need a visit an on-site deadline starts;
                    missed ─▶ the climb resumes at the next level
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from alerting.rules import Rule, RuleSettings
from core.vocabulary import Severity

# Used when neither the elder nor the district has a policy for the severity.
DEFAULT_POLICIES: Final[dict[Severity, dict[str, Any]]] = {
    Severity.CRITICAL: {
        "name": "default critical",
        "repeat_interval_s": 600,
        "levels": [
            {
                "targets": [{"role": "community_worker"}],
                "channels": ["sms", "app"],
                "timeout_s": 180,
            },
            {"targets": [{"role": "family"}], "channels": ["sms", "voice"], "timeout_s": 300},
            {"targets": [{"role": "supervisor"}], "channels": ["voice"], "timeout_s": 300},
        ],
    },
    Severity.WARNING: {
        "name": "default warning",
        "repeat_interval_s": 3600,
        "levels": [
            {
                "targets": [{"role": "community_worker"}],
                "channels": ["sms", "app"],
                "timeout_s": 1800,
            },
            {"targets": [{"role": "family"}], "channels": ["sms"], "timeout_s": 3600},
        ],
    },
    Severity.MAINTENANCE: {
        "name": "default maintenance",
        "repeat_interval_s": 86400,
        "levels": [
            {
                "targets": [{"role": "community_worker"}],
                "channels": ["app", "sms"],
                "timeout_s": 86400,
            },
        ],
    },
}


@dataclass(frozen=True)
class Step:
    level: int
    round: int  # how often the last level has been repeated
    targets: list[dict[str, Any]]
    channels: list[str]
    next_due_at: datetime | None
    due_reason: str | None


def _level(policy: dict[str, Any], index: int) -> dict[str, Any]:
    level: dict[str, Any] = policy["levels"][index]
    return level


def first_step(policy: dict[str, Any], now: datetime) -> Step:
    level = _level(policy, 0)
    return Step(
        0,
        0,
        level["targets"],
        level["channels"],
        now + timedelta(seconds=level["timeout_s"]),
        "escalate",
    )


def next_step(policy: dict[str, Any], level: int, round_: int, now: datetime) -> Step:
    """The climb continues: the next level, or the last one again after repeat_interval."""
    last = len(policy["levels"]) - 1
    if level < last:
        target = _level(policy, level + 1)
        return Step(
            level + 1,
            0,
            target["targets"],
            target["channels"],
            now + timedelta(seconds=target["timeout_s"]),
            "escalate",
        )
    target = _level(policy, last)
    return Step(
        last,
        round_ + 1,
        target["targets"],
        target["channels"],
        now + timedelta(seconds=policy["repeat_interval_s"]),
        "escalate",
    )


def on_site_deadline(
    rule: Rule, severity: Severity, settings: RuleSettings, now: datetime
) -> datetime | None:
    """After an acknowledgement: when someone must be with the elder, if at all."""
    if rule.needs_visit and severity is Severity.CRITICAL:
        return now + timedelta(minutes=settings.on_site_minutes)
    return None
