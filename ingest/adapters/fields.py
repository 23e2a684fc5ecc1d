"""The tables every adapter shares: which reading fields exist, what each may hold, and
which device types may send which fields and events.

A field name here is also the `Reading` attribute and the `readings` column it fills.
Adding a sensor is a row in `SENSOR_FIELDS` (and a column), never an `if`.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from core.types import DeviceType, EventKind


class FieldError(ValueError):
    """A value does not fit its field; the message says why, the caller names the field."""


Parse = Callable[[Any], Any]


def boolean(value: Any) -> bool:
    # 0/1 and "true" are firmware bugs worth seeing in quarantine, not guessing at.
    if type(value) is bool:
        return value
    raise FieldError(f"expected true or false, got {describe(value)}")


def number(low: float | None, high: float | None, *, integer: bool = False) -> Parse:
    """A finite JSON number within [low, high]; integer fields round (Zigbee batteries
    report halves, e.g. 87.5 %)."""

    def parse(value: Any) -> float | int:
        if type(value) not in (int, float) or not math.isfinite(value):
            raise FieldError(f"expected a number, got {describe(value)}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise FieldError(f"{value} is outside {_range(low, high)}")
        return round(value) if integer else float(value)

    return parse


def text(max_length: int) -> Parse:
    def parse(value: Any) -> str:
        if type(value) is not str or not 0 < len(value) <= max_length:
            raise FieldError(f"expected a string of 1–{max_length} characters")
        return value

    return parse


def describe(value: Any) -> str:
    """A short, safe rendering of a bad value for the quarantine detail."""
    if value is None:
        return "null"
    shown = repr(value)
    return f"{type(value).__name__} {shown[:40]}{'…' if len(shown) > 40 else ''}"


def _range(low: float | None, high: float | None) -> str:
    if high is None:
        return f"≥ {low}"
    return f"{low}–{high}" if low is not None else f"≤ {high}"


ANY_TYPE: Final = frozenset(DeviceType)


def only(*types: DeviceType) -> frozenset[DeviceType]:
    return frozenset(types)


@dataclass(frozen=True, slots=True)
class SensorField:
    parse: Parse
    types: frozenset[DeviceType]  # device types that have this sensor


SENSOR_FIELDS: Final[Mapping[str, SensorField]] = MappingProxyType(
    {
        "battery": SensorField(number(0, 100, integer=True), ANY_TYPE),  # %
        "battery_low": SensorField(boolean, ANY_TYPE),
        "tamper": SensorField(boolean, ANY_TYPE),
        "rssi": SensorField(number(-150, 0, integer=True), ANY_TYPE),  # dBm
        "temperature": SensorField(number(-50, 125), ANY_TYPE),  # °C, sensor chip range
        "smoke": SensorField(boolean, only(DeviceType.SMOKE)),
        "smoke_density": SensorField(number(0, None), only(DeviceType.SMOKE)),
        "gas": SensorField(boolean, only(DeviceType.GAS)),
        "gas_lel": SensorField(number(0, None), only(DeviceType.GAS)),  # % LEL
        "motion": SensorField(boolean, only(DeviceType.PIR)),
        "illuminance": SensorField(number(0, None), only(DeviceType.PIR)),  # lx
    }
)

EVENT_TYPES: Final[Mapping[EventKind, frozenset[DeviceType]]] = MappingProxyType(
    {
        EventKind.BUTTON_PRESS: only(DeviceType.EMERGENCY_BUTTON),
        EventKind.ALARM: only(DeviceType.SMOKE, DeviceType.GAS),
        EventKind.ALARM_CLEAR: only(DeviceType.SMOKE, DeviceType.GAS),
        EventKind.TAMPER: ANY_TYPE,
        EventKind.SELF_TEST: ANY_TYPE,
        EventKind.FAULT: ANY_TYPE,
        EventKind.LOW_BATTERY: ANY_TYPE,
    }
)
