"""Escalation steps without servers: where a policy sends an alert next, as a table."""

from datetime import timedelta
from typing import Any

import pytest

from alerting.escalation import DEFAULT_POLICIES, Step, first_step, next_step, on_site_deadline
from alerting.rules import RULES_BY_NAME, RuleSettings
from core.vocabulary import Severity
from tests.support.clock import T0

WORKER, FAMILY, CHIEF = [{"role": "community_worker"}], [{"role": "family"}], [{"role": "chief"}]
POLICY: dict[str, Any] = {
    "name": "three levels",
    "repeat_interval_s": 600,
    "levels": [
        {"targets": WORKER, "channels": ["sms", "app"], "timeout_s": 180},
        {"targets": FAMILY, "channels": ["voice"], "timeout_s": 300},
        {"targets": CHIEF, "channels": ["voice"], "timeout_s": 120},
    ],
}
ONE_LEVEL: dict[str, Any] = {"repeat_interval_s": 60, "levels": [POLICY["levels"][0]]}


def step(
    level: int, round_: int, targets: list[dict[str, str]], channels: list[str], s: int
) -> Step:
    return Step(level, round_, targets, channels, T0 + timedelta(seconds=s), "escalate")


def test_the_first_step_pages_level_zero_until_its_timeout() -> None:
    assert first_step(POLICY, T0) == step(0, 0, WORKER, ["sms", "app"], 180)


# (policy, where the alert stands: level, round) -> the step that follows
@pytest.mark.parametrize(
    ("policy", "level", "round_", "expected"),
    [
        pytest.param(POLICY, 0, 0, step(1, 0, FAMILY, ["voice"], 300), id="climbs to level 1"),
        pytest.param(POLICY, 1, 0, step(2, 0, CHIEF, ["voice"], 120), id="climbs to the last"),
        pytest.param(POLICY, 2, 0, step(2, 1, CHIEF, ["voice"], 600), id="repeats the last"),
        pytest.param(POLICY, 2, 4, step(2, 5, CHIEF, ["voice"], 600), id="counts repeats"),
        pytest.param(ONE_LEVEL, 0, 0, step(0, 1, WORKER, ["sms", "app"], 60), id="one level"),
    ],
)
def test_next_step(policy: dict[str, Any], level: int, round_: int, expected: Step) -> None:
    assert next_step(policy, level, round_, T0) == expected


@pytest.mark.parametrize("severity", list(Severity))
def test_every_default_policy_climbs_to_its_last_level_and_repeats(severity: Severity) -> None:
    policy = DEFAULT_POLICIES[severity]
    current = first_step(policy, T0)
    for _ in policy["levels"][1:]:
        current = next_step(policy, current.level, current.round, T0)
    last = len(policy["levels"]) - 1
    assert (current.level, current.round) == (last, 0)
    repeated = next_step(policy, current.level, current.round, T0)
    assert (repeated.level, repeated.round) == (last, 1)
    assert repeated.next_due_at == T0 + timedelta(seconds=policy["repeat_interval_s"])


# (rule, severity) -> minutes until someone must be on site after an acknowledgement
@pytest.mark.parametrize(
    ("rule", "severity", "minutes"),
    [
        ("emergency_call", Severity.CRITICAL, 30),
        ("smoke", Severity.CRITICAL, 30),
        ("gas", Severity.CRITICAL, 30),
        ("inactivity", Severity.CRITICAL, 30),
        ("inactivity", Severity.WARNING, None),  # a visit, but not against the clock
        ("low_battery", Severity.CRITICAL, None),  # no visit needed
        ("tamper", Severity.WARNING, None),
    ],
)
def test_on_site_deadline(rule: str, severity: Severity, minutes: int | None) -> None:
    deadline = on_site_deadline(RULES_BY_NAME[rule], severity, RuleSettings(), T0)
    assert deadline == (None if minutes is None else T0 + timedelta(minutes=minutes))


def test_on_site_deadline_reads_the_settings() -> None:
    settings = RuleSettings.merged({"on_site_minutes": 5})
    assert on_site_deadline(RULES_BY_NAME["smoke"], Severity.CRITICAL, settings, T0) == (
        T0 + timedelta(minutes=5)
    )
