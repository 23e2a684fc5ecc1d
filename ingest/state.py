"""Device state from a batch: last seen, last values, battery, online/offline, and the
alarm flags that decide which readings become signals.

Pure: `advance` takes the stored state of the batch's devices and the batch's new
messages and returns the state to store and the signals to hand over. Per-device order
is by device timestamp and msg_id, never by arrival, so a late message is stored but does
not overwrite newer values, and two ingest processes converge on the same state.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ingest.messages import Event, Reading, Status
from ingest.signals import Signal, from_event, from_reading

VALUE_FIELDS = (
    "battery",
    "battery_low",
    "rssi",
    "temperature",
    "tamper",
    "smoke",
    "smoke_density",
    "gas",
    "gas_lel",
    "motion",
    "illuminance",
)


@dataclass(frozen=True, slots=True)
class DeviceState:
    device_id: str
    online: bool | None = None
    status_ts: datetime | None = None
    firmware: str | None = None
    last_seen_at: datetime | None = None
    last_reading_ts: datetime | None = None
    last_reading_msg: str | None = None
    last_motion_at: datetime | None = None
    battery: int | None = None
    battery_low: bool | None = None
    rssi: int | None = None
    # Only what this batch learnt: the writer merges it into the stored values in SQL.
    last_values: dict[str, Any] = field(default_factory=dict)
    raised_flags: frozenset[str] = frozenset()


def advance(
    stored: Mapping[str, DeviceState],
    readings: Iterable[Reading],
    events: Iterable[Event],
    statuses: Iterable[Status],
) -> tuple[dict[str, DeviceState], list[Signal]]:
    states: dict[str, DeviceState] = dict(stored)
    signals: list[Signal] = []
    for reading in sorted(readings, key=lambda r: (r.device_id, r.ts, r.msg_id)):
        state = states.get(reading.device_id) or DeviceState(reading.device_id)
        states[reading.device_id], new = _apply_reading(state, reading)
        signals.extend(new)
    for event in events:
        state = states.get(event.device_id) or DeviceState(event.device_id)
        states[event.device_id] = _seen(state, event.received_at)
        signals.append(from_event(event))
    for status in statuses:
        state = states.get(status.device_id) or DeviceState(status.device_id)
        states[status.device_id] = _apply_status(state, status)
    changed = {k: v for k, v in states.items() if stored.get(k) != v}
    return changed, signals


def _seen(state: DeviceState, received_at: datetime) -> DeviceState:
    if state.last_seen_at is not None and state.last_seen_at >= received_at:
        return state
    return replace(state, last_seen_at=received_at)


def _apply_reading(state: DeviceState, reading: Reading) -> tuple[DeviceState, list[Signal]]:
    state = _seen(state, reading.received_at)
    if reading.motion and (state.last_motion_at is None or reading.ts > state.last_motion_at):
        state = replace(state, last_motion_at=reading.ts)
    newest = (state.last_reading_ts, state.last_reading_msg or "")
    if state.last_reading_ts is not None and (reading.ts, reading.msg_id) <= newest:
        return state, []  # late: stored, but newer values and flags stand
    signals, raised = from_reading(reading, state.raised_flags)
    values = {k: getattr(reading, k) for k in VALUE_FIELDS if getattr(reading, k) is not None}
    return (
        replace(
            state,
            last_reading_ts=reading.ts,
            last_reading_msg=reading.msg_id,
            battery=reading.battery if reading.battery is not None else state.battery,
            battery_low=(
                reading.battery_low if reading.battery_low is not None else state.battery_low
            ),
            rssi=reading.rssi if reading.rssi is not None else state.rssi,
            last_values={**state.last_values, **values},
            raised_flags=raised,
        ),
        signals,
    )


def _apply_status(state: DeviceState, status: Status) -> DeviceState:
    state = _seen(state, status.received_at) if status.online else state
    when = status.ts or status.received_at
    if state.status_ts is not None and when < state.status_ts:
        return state
    return replace(
        state, online=status.online, status_ts=when, firmware=status.firmware or state.firmware
    )
