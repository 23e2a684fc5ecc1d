"""Daily life in a simulated home: when an elder moves about, as a table of the day.

`ROUTINE` gives, for each part of a local day, how many times an hour the PIR sensor
sees motion (sleep with the odd bathroom visit, meals, a nap …). `history` turns it into
a week of past readings for seeding (the activity heat-map); `Household` plays it live
through a real PIR simulator, optionally faster than real time; `stop_moving` is the
elder who falls and stays down.
"""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from simulators.devices import SimulatedDevice

LOCAL: Final = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Activity:
    start_hour: int  # local, inclusive
    end_hour: int  # local, exclusive
    name: str
    motions_per_hour: float


ROUTINE: Final = (
    Activity(0, 6, "sleep", 0.4),  # a bathroom visit or two
    Activity(6, 7, "rising", 18),
    Activity(7, 8, "breakfast", 30),
    Activity(8, 11, "morning", 12),
    Activity(11, 13, "lunch", 25),
    Activity(13, 15, "nap", 2),
    Activity(15, 18, "afternoon", 10),
    Activity(18, 19, "dinner", 25),
    Activity(19, 22, "evening", 8),
    Activity(22, 24, "sleep", 0.6),
)


def motions_per_hour(local_hour: int) -> float:
    return next(a.motions_per_hour for a in ROUTINE if a.start_hour <= local_hour < a.end_hour)


def history(end: datetime, days: int, seed: int = 0) -> list[datetime]:
    """Times of motion over the `days` before `end`, following the routine."""
    rng = random.Random(seed)
    times: list[datetime] = []
    hour = (end - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    while hour < end:
        expected = motions_per_hour(hour.astimezone(LOCAL).hour)
        count = sum(1 for _ in range(60) if rng.random() < expected / 60)
        times.extend(hour + timedelta(minutes=rng.uniform(0, 60)) for _ in range(count))
        hour += timedelta(hours=1)
    return sorted(t for t in times if t < end)


class SimulatedDay:
    """A local clock that starts at `start_hour` today and runs `speed` times faster, so a
    demo spends its minutes in the waking part of the day."""

    def __init__(self, start_hour: int = 8, speed: float = 60.0) -> None:
        today = datetime.now(LOCAL).replace(hour=start_hour, minute=0, second=0, microsecond=0)
        self.start, self.speed, self._begun = today, speed, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._begun) * self.speed)


class Household:
    """Plays the routine through a PIR simulator. `speed` > 1 runs the day faster (the
    demo uses minutes per simulated hour); `clock` is the simulated local time."""

    def __init__(
        self,
        pir: SimulatedDevice,
        clock: Callable[[], datetime],
        *,
        tick_s: float = 5.0,
        speed: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.pir, self.clock, self.tick_s, self.speed = pir, clock, tick_s, speed
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._moving = threading.Event()
        self._moving.set()
        self._thread = threading.Thread(target=self._run, name=f"home-{pir.device_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def stop_moving(self) -> None:
        """The elder stays down: the sensor keeps its heartbeats, but sees no one."""
        self._moving.clear()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            if not self._moving.is_set():
                continue
            simulated_hours = self.tick_s * self.speed / 3600
            rate = motions_per_hour(self.clock().astimezone(LOCAL).hour)
            if self._rng.random() < min(1.0, rate * simulated_hours):
                try:
                    self.pir.motion()
                except Exception:  # a dropped connection must not end the household
                    continue
