"""`rules.evaluate` without servers: every signal shape against every device type, as a
table of what each should trigger or clear. A rule row added to RULES without a row here
fails `test_every_signal_rule_is_in_the_table`."""

from typing import Any

import pytest

from alerting.rules import RULES, RuleSettings, Signal, Verdict, evaluate
from core.types import DeviceType

BUTTON, SMOKE, GAS, PIR = DeviceType
ALL = tuple(DeviceType)
DEFAULTS = RuleSettings()
T, C = Verdict.TRIGGER, Verdict.CLEAR


def signal(name: str, raised: bool = True, value: float | None = None, **detail: Any) -> Signal:
    return Signal(name, raised, value, detail)


# (what the device said, the device types it comes from, {rule: verdict}); a device type
# not listed must produce no verdict at all for that signal.
CASES: list[tuple[str, Signal, tuple[DeviceType, ...], dict[str, Verdict]]] = [
    ("a press", signal("button_press"), (BUTTON,), {"emergency_call": T}),
    ("smoke raised", signal("smoke"), (SMOKE,), {"smoke": T}),
    ("smoke cleared", signal("smoke", raised=False), (SMOKE,), {"smoke": C}),
    ("gas raised", signal("gas"), (GAS,), {"gas": T}),
    ("gas cleared", signal("gas", raised=False), (GAS,), {"gas": C}),
    ("LEL at the threshold", signal("gas_lel", value=10.0), (GAS,), {"gas": T}),
    ("LEL over the threshold", signal("gas_lel", value=40.0), (GAS,), {"gas": T}),
    ("LEL under the threshold", signal("gas_lel", value=9.9), (GAS,), {"gas": C}),
    ("LEL without a value", signal("gas_lel", value=None), (GAS,), {}),
    ("a low-battery event", signal("low_battery"), ALL, {"low_battery": T}),
    ("battery under the threshold", signal("battery_low", value=19.0), ALL, {"low_battery": T}),
    ("battery at the threshold", signal("battery_low", value=20.0), ALL, {}),
    ("battery low, no level", signal("battery_low", value=None), ALL, {"low_battery": T}),
    ("battery flag cleared", signal("battery_low", raised=False), ALL, {"low_battery": C}),
    ("tamper raised", signal("tamper"), ALL, {"tamper": T}),
    ("tamper cleared", signal("tamper", raised=False), ALL, {"tamper": C}),
    ("a fault", signal("fault"), ALL, {"fault": T}),
    ("a failed self-test", signal("self_test", result="fail"), ALL, {"self_test_failed": T}),
    ("a passed self-test", signal("self_test", result="pass"), ALL, {}),
    ("a self-test without result", signal("self_test"), ALL, {}),
    ("an unknown signal", signal("door_open"), ALL, {}),
]


@pytest.mark.parametrize(
    ("sent", "device_type", "expected"),
    [
        pytest.param(
            sent,
            device_type,
            expected if device_type in sources else {},
            id=f"{what}-{device_type}",
        )
        for what, sent, sources, expected in CASES
        for device_type in ALL
    ],
)
def test_evaluate(sent: Signal, device_type: DeviceType, expected: dict[str, Verdict]) -> None:
    verdicts = {rule.name: verdict for rule, verdict in evaluate(sent, device_type, DEFAULTS)}
    assert verdicts == expected


# The alarm events of smoke and gas detectors share a name: the device type decides.
@pytest.mark.parametrize(
    ("sent", "device_type", "expected"),
    [
        (signal("alarm"), SMOKE, {"smoke": T}),
        (signal("alarm"), GAS, {"gas": T}),
        (signal("alarm"), BUTTON, {}),
        (signal("alarm"), PIR, {}),
        (signal("alarm_clear"), SMOKE, {"smoke": C}),
        (signal("alarm_clear"), GAS, {"gas": C}),
        (signal("alarm_clear"), BUTTON, {}),
        (signal("alarm_clear"), PIR, {}),
    ],
)
def test_evaluate_an_alarm_event(
    sent: Signal, device_type: DeviceType, expected: dict[str, Verdict]
) -> None:
    verdicts = {rule.name: verdict for rule, verdict in evaluate(sent, device_type, DEFAULTS)}
    assert verdicts == expected


# Thresholds come from the district's and the elder's settings, not only the defaults.
@pytest.mark.parametrize(
    ("settings", "sent", "expected"),
    [
        ({"gas_lel_threshold": 25.0}, signal("gas_lel", value=20.0), {"gas": C}),
        ({"gas_lel_threshold": 25.0}, signal("gas_lel", value=25.0), {"gas": T}),
        ({"battery_threshold": 10}, signal("battery_low", value=15.0), {}),
        ({"battery_threshold": 10}, signal("battery_low", value=9.0), {"low_battery": T}),
    ],
)
def test_evaluate_reads_the_settings(
    settings: dict[str, float], sent: Signal, expected: dict[str, Verdict]
) -> None:
    device = GAS if sent.signal == "gas_lel" else SMOKE
    verdicts = evaluate(sent, device, RuleSettings.merged(settings))
    assert {rule.name: verdict for rule, verdict in verdicts} == expected


def test_every_signal_rule_is_in_the_table() -> None:
    """Timer rules (no trigger) are judged by the timers; every other rule has a row."""
    covered = {rule for _, _, _, expected in CASES for rule in expected}
    assert covered == {rule.name for rule in RULES if rule.trigger is not None}
