"""`ingest.state.advance` without servers: ordering by device time, late messages, alarm
flags and statuses, as tables of batches and the state and signals they leave."""

from dataclasses import replace
from datetime import timedelta
from typing import TypedDict, Unpack

import pytest

from core.types import EventKind
from ingest.messages import Event, Reading, Status
from ingest.state import DeviceState, advance
from tests.support.clock import T0

DEV = "smoke-1"


def at(seconds: int) -> Reading:
    """A heartbeat sent at T0 + seconds, received a second later."""
    return Reading(
        DEV, T0 + timedelta(seconds=seconds), f"m{seconds}", T0 + timedelta(seconds=seconds + 1)
    )


class Values(TypedDict, total=False):
    """The reading fields these tables set."""

    smoke: bool
    gas_lel: float
    tamper: bool
    battery: int


def reading(seconds: int, **values: Unpack[Values]) -> Reading:
    return replace(at(seconds), **values)


# (batch of readings in arrival order, stored flags) -> (signals as (name, raised), flags after)
FLAG_CASES = [
    pytest.param([reading(0, smoke=True)], frozenset(), [("smoke", True)], {"smoke"}, id="raise"),
    pytest.param([reading(0, smoke=True)], {"smoke"}, [], {"smoke"}, id="repeat is quiet"),
    pytest.param([reading(0, smoke=False)], {"smoke"}, [("smoke", False)], set(), id="clear"),
    pytest.param([reading(0, smoke=False)], frozenset(), [], set(), id="clear when clear"),
    pytest.param([reading(0)], {"smoke"}, [], {"smoke"}, id="heartbeat says nothing"),
    pytest.param(
        [reading(5, smoke=False), reading(0, smoke=True)],
        frozenset(),
        [("smoke", True), ("smoke", False)],
        set(),
        id="by device time, not arrival",
    ),
    pytest.param(
        [reading(0, gas_lel=12.0), reading(1, gas_lel=13.0)],
        frozenset(),
        [("gas_lel", True), ("gas_lel", True)],
        {"gas_lel"},
        id="LEL repeats while over the floor",
    ),
    pytest.param(
        [reading(0, tamper=True), reading(1, battery=10)],
        frozenset(),
        [("tamper", True), ("battery_low", True)],
        {"tamper", "battery_low"},
        id="flags are independent",
    ),
]


@pytest.mark.parametrize(("batch", "flags", "signals", "after"), FLAG_CASES)
def test_flags(
    batch: list[Reading], flags: frozenset[str], signals: list[tuple[str, bool]], after: set[str]
) -> None:
    stored = {DEV: DeviceState(DEV, raised_flags=frozenset(flags))}
    changed, sent = advance(stored, batch, [], [])
    assert [(s.signal, s.raised) for s in sent] == signals
    assert changed.get(DEV, stored[DEV]).raised_flags == after


def test_a_late_reading_is_seen_but_does_not_overwrite_newer_values() -> None:
    newest = DeviceState(
        DEV, last_reading_ts=T0 + timedelta(minutes=5), last_reading_msg="m300", battery=80
    )
    changed, sent = advance({DEV: newest}, [reading(0, battery=10, smoke=True)], [], [])
    state = changed[DEV]
    assert sent == []  # its flags are history: the newer reading's stand
    assert (state.battery, state.last_reading_ts, state.raised_flags) == (
        80,
        newest.last_reading_ts,
        frozenset(),
    )
    assert state.last_seen_at == T0 + timedelta(seconds=1)


def test_same_device_time_is_ordered_by_msg_id() -> None:
    first = Reading(DEV, T0, "a", T0, battery=50)
    second = Reading(DEV, T0, "b", T0, battery=40)
    for batch in ([first, second], [second, first]):
        changed, _ = advance({}, batch, [], [])
        assert (changed[DEV].battery, changed[DEV].last_reading_msg) == (40, "b")


# (stored status time, status sent, status received) -> online after the batch
STATUS_CASES = [
    pytest.param(None, True, 0, True, id="first status"),
    pytest.param(60, False, 120, False, id="newer offline wins"),
    pytest.param(60, False, 30, True, id="older offline is ignored"),
]


@pytest.mark.parametrize(("stored_s", "online", "sent_s", "expected"), STATUS_CASES)
def test_status(stored_s: int | None, online: bool, sent_s: int, expected: bool) -> None:
    stored = (
        DeviceState(DEV)
        if stored_s is None
        else DeviceState(DEV, online=True, status_ts=T0 + timedelta(seconds=stored_s))
    )
    status = Status(DEV, online, T0 + timedelta(seconds=sent_s), ts=T0 + timedelta(seconds=sent_s))
    changed, sent = advance({DEV: stored}, [], [], [status])
    assert changed.get(DEV, stored).online is expected
    assert sent == []


def test_every_event_is_a_signal_and_marks_the_device_seen() -> None:
    press = Event("btn-1", T0, "e1", T0 + timedelta(seconds=2), EventKind.BUTTON_PRESS)
    changed, sent = advance({}, [], [press, press], [])
    assert [s.signal for s in sent] == ["button_press", "button_press"]
    assert changed["btn-1"].last_seen_at == T0 + timedelta(seconds=2)


def test_nothing_new_changes_nothing() -> None:
    state = DeviceState(DEV, last_seen_at=T0, online=True, status_ts=T0)
    status = Status(DEV, True, T0 - timedelta(seconds=1), ts=T0 - timedelta(seconds=1))
    assert advance({DEV: state}, [], [], [status]) == ({}, [])
