"""What ingest hands to the alert engine: the signals of a batch, as outbox rows.

Every event is a signal. Readings signal through alarm flags, and only when a flag
changes, because devices repeat `smoke: true` (and Zigbee2MQTT repeats its whole state)
in every message while the condition lasts. Two flags carry a measured value the engine
compares with per-district and per-elder thresholds (gas LEL, battery); they signal with
every reading while past a platform floor, so a threshold above the floor is always seen.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from ingest.messages import Event, Reading

# Platform floors below which no per-elder threshold may be set (see docs/ingest.md).
GAS_LEL_SIGNAL_FLOOR: Final = 5.0  # % LEL; the default gas alarm threshold is 10
BATTERY_SIGNAL_CEILING: Final = 30  # %; the default low-battery threshold is 20


@dataclass(frozen=True, slots=True)
class Signal:
    device_id: str
    ts: datetime
    msg_id: str
    received_at: datetime
    signal: str
    raised: bool = True
    value: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Flag:
    name: str
    state: Callable[[Reading], bool | None]  # None: this reading says nothing about it
    value: Callable[[Reading], float | None] = lambda reading: None
    repeat: bool = False  # signal every raised reading, not only the change


def _gas_lel(reading: Reading) -> bool | None:
    return None if reading.gas_lel is None else reading.gas_lel >= GAS_LEL_SIGNAL_FLOOR


def _battery_low(reading: Reading) -> bool | None:
    if reading.battery_low:
        return True
    if reading.battery is not None:
        return reading.battery < BATTERY_SIGNAL_CEILING
    return reading.battery_low


FLAGS: Final = (
    Flag("smoke", lambda r: r.smoke),
    Flag("gas", lambda r: r.gas),
    Flag("gas_lel", _gas_lel, value=lambda r: r.gas_lel, repeat=True),
    Flag("tamper", lambda r: r.tamper),
    Flag(
        "battery_low",
        _battery_low,
        value=lambda r: None if r.battery is None else float(r.battery),
        repeat=True,
    ),
)


def from_event(event: Event) -> Signal:
    return Signal(
        event.device_id,
        event.ts,
        event.msg_id,
        event.received_at,
        event.event.value,
        detail=event.detail,
    )


def from_reading(reading: Reading, raised: frozenset[str]) -> tuple[list[Signal], frozenset[str]]:
    """Signals of one reading given the flags raised before it; returns the new flags."""
    signals: list[Signal] = []
    now_raised = set(raised)
    for flag in FLAGS:
        state = flag.state(reading)
        if state is None:
            continue
        was = flag.name in raised
        if state != was or (state and flag.repeat):
            signals.append(
                Signal(
                    reading.device_id,
                    reading.ts,
                    reading.msg_id,
                    reading.received_at,
                    flag.name,
                    raised=state,
                    value=flag.value(reading),
                )
            )
        if state:
            now_raised.add(flag.name)
        else:
            now_raised.discard(flag.name)
    return signals, frozenset(now_raised)
