"""The alert rules, as one table, and the thresholds they read.

A rule turns outbox signals (events, and alarm flags raised or cleared) into "trigger"
or "clear" for one device. Timer rules (inactivity, device offline) are evaluated from
stored facts by `timers.py` and appear here for their severity and settings only.
Adding a rule is a row in RULES; adding a threshold, a field of RuleSettings.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any, Final

from core.types import DeviceType
from core.vocabulary import Severity

BUTTON, SMOKE, GAS, PIR = DeviceType
ANY_DEVICE: Final = frozenset(DeviceType)


@dataclass(frozen=True)
class RuleSettings:
    """Thresholds with their defaults; districts and elders override them (rule_settings)."""

    gas_lel_threshold: float = 10.0  # % LEL
    battery_threshold: int = 20  # %
    inactivity_hours: float = 12.0
    morning_hour: int = 10  # local: no motion by then after the night is an alert
    night_end_hour: int = 5  # local: motion after this counts as "after the night"
    on_site_minutes: int = 30  # after an acknowledgement of a critical alert
    offline_heartbeats: int = 3
    offline_min_minutes: int = 10

    @classmethod
    def merged(cls, *overrides: Mapping[str, Any]) -> "RuleSettings":
        """Defaults, then each override in order (district, then elder); unknown keys,
        values of the wrong type and values outside SETTING_RANGES are ignored rather
        than trusted, so no stored setting can make a job raise."""
        settings = cls()
        known = {f.name: type(getattr(settings, f.name)) for f in fields(cls)}
        for override in overrides:
            valid = {k: known[k](v) for k, v in override.items() if k in known and _in_range(k, v)}
            settings = replace(settings, **valid)
        return settings


# What a district or elder may set: beyond these a threshold means nothing (an hour of
# 25) or breaks the arithmetic of the timers (an infinite number of hours). They are
# wide on purpose (the demo and tests compress hours into seconds): they keep the jobs
# running, they are not a policy.
SETTING_RANGES: Final[dict[str, tuple[float, float]]] = {
    "gas_lel_threshold": (0.1, 100.0),
    "battery_threshold": (1, 100),
    "inactivity_hours": (0.01, 7 * 24.0),
    "morning_hour": (0, 23),
    "night_end_hour": (0, 23),
    "on_site_minutes": (1, 24 * 60),
    "offline_heartbeats": (1, 100),
    "offline_min_minutes": (1, 7 * 24 * 60),
}


def _in_range(name: str, value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False  # an int of 400 digits compares fine; float() of it would raise
    low, high = SETTING_RANGES[name]
    return low <= value <= high


@dataclass(frozen=True)
class Signal:
    """One row of alert_outbox, as the rules see it."""

    signal: str
    raised: bool
    value: float | None
    detail: Mapping[str, Any]


Match = Callable[[Signal, RuleSettings], bool]


def _raised(name: str) -> Match:
    return lambda s, _: s.signal == name and s.raised


def _cleared(name: str) -> Match:
    return lambda s, _: s.signal == name and not s.raised


def _event(name: str) -> Match:
    return lambda s, _: s.signal == name


def _any(*matches: Match) -> Match:
    return lambda s, settings: any(m(s, settings) for m in matches)


def _gas_lel_over(s: Signal, settings: RuleSettings) -> bool:
    return s.signal == "gas_lel" and s.value is not None and s.value >= settings.gas_lel_threshold


def _gas_lel_under(s: Signal, settings: RuleSettings) -> bool:
    return s.signal == "gas_lel" and s.value is not None and s.value < settings.gas_lel_threshold


def _battery_low(s: Signal, settings: RuleSettings) -> bool:
    if s.signal == "low_battery":
        return True
    if s.signal != "battery_low" or not s.raised:
        return False
    return s.value is None or s.value < settings.battery_threshold


def _self_test_failed(s: Signal, settings: RuleSettings) -> bool:
    return s.signal == "self_test" and str(s.detail.get("result", "pass")) == "fail"


@dataclass(frozen=True)
class Rule:
    name: str
    severity: Severity
    devices: frozenset[DeviceType]
    trigger: Match | None  # None: a timer rule
    clear: Match | None = None
    needs_visit: bool = False  # acknowledged is not enough: someone must reach the home
    template: str = ""  # template kind; defaults to the rule name

    @property
    def kind(self) -> str:
        return self.template or self.name


RULES: Final = (
    Rule(
        "emergency_call",
        Severity.CRITICAL,
        frozenset({BUTTON}),
        _event("button_press"),
        needs_visit=True,
    ),
    Rule(
        "smoke",
        Severity.CRITICAL,
        frozenset({SMOKE}),
        _any(_raised("smoke"), _event("alarm")),
        clear=_any(_cleared("smoke"), _event("alarm_clear")),
        needs_visit=True,
    ),
    Rule(
        "gas",
        Severity.CRITICAL,
        frozenset({GAS}),
        _any(_raised("gas"), _event("alarm"), _gas_lel_over),
        clear=_any(_cleared("gas"), _event("alarm_clear"), _gas_lel_under),
        needs_visit=True,
    ),
    Rule("inactivity", Severity.WARNING, frozenset({PIR}), None, needs_visit=True),
    Rule("device_offline", Severity.MAINTENANCE, ANY_DEVICE, None),
    Rule(
        "low_battery",
        Severity.MAINTENANCE,
        ANY_DEVICE,
        _battery_low,
        clear=lambda s, settings: s.signal == "battery_low" and not s.raised,
    ),
    # A tamper event arrives raised, like the flag: matching the name alone would turn a
    # cleared flag into a new alert.
    Rule("tamper", Severity.WARNING, ANY_DEVICE, _raised("tamper"), clear=_cleared("tamper")),
    Rule("fault", Severity.MAINTENANCE, ANY_DEVICE, _event("fault")),
    Rule("self_test_failed", Severity.MAINTENANCE, ANY_DEVICE, _self_test_failed, template="fault"),
)
RULES_BY_NAME: Final = {rule.name: rule for rule in RULES}


class Verdict(StrEnum):
    TRIGGER = "trigger"
    CLEAR = "clear"


def evaluate(
    signal: Signal, device_type: DeviceType, settings: RuleSettings
) -> list[tuple[Rule, Verdict]]:
    """What each rule makes of one signal from a device of this type."""
    verdicts = []
    for rule in RULES:
        if device_type not in rule.devices:
            continue
        if rule.trigger is not None and rule.trigger(signal, settings):
            verdicts.append((rule, Verdict.TRIGGER))
        elif rule.clear is not None and rule.clear(signal, settings):
            verdicts.append((rule, Verdict.CLEAR))
    return verdicts
