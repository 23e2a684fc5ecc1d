"""The tests' one clock, injected wherever the product takes a clock (a callable that
returns an aware datetime): the test moves time, nothing sleeps to wait for it.

Stopped (the default), it reads a fixed moment that only the test moves. Following the
real time (`ManualClock.following_real_time()`), it reads the wall clock plus what the
test advanced it by: for stacks a browser drives, where real seconds must pass."""

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)  # 08:00 in Ordos


class ManualClock:
    def __init__(self, start: datetime | None = T0) -> None:
        self._start = start  # None: the real time
        self._offset = timedelta(0)

    @classmethod
    def following_real_time(cls) -> "ManualClock":
        return cls(start=None)

    def __call__(self) -> datetime:
        return self.now

    @property
    def now(self) -> datetime:
        start = datetime.now(UTC) if self._start is None else self._start
        return start + self._offset

    @now.setter
    def now(self, moment: datetime) -> None:
        """Stop the clock at `moment` (`clock.now += delta` moves a stopped clock)."""
        self._start, self._offset = moment, timedelta(0)

    def advance(self, **delta: float) -> datetime:
        self._offset += timedelta(**delta)
        return self.now

    def reset(self) -> None:
        """Take back every advance."""
        self._offset = timedelta(0)
