"""Load generator for benchmarks: many devices' readings through one or a few MQTT
connections of a load account (one that may publish any `nuanxin/v1/+/telemetry`).

Message `i` of a run (0-based, across `run()` calls) belongs to device `i mod N` in the
order the devices were given, and carries msg_id `{run_id}-{i}`; `plan()` rebuilds that
list without a broker, so a benchmark can check what got stored. Every device always
publishes through the same connection, so its readings reach the broker in order.

Each publish records its wall-clock time (`published_at[msg_id]`, epoch seconds) for
publish→commit latency, measured later against the database's commit times.
"""

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Self

from core.types import DeviceType
from simulators.devices import PROFILES, Power
from simulators.mqtt import (
    AckTimeout,
    Connection,
    Endpoint,
    NotConnected,
    PublishRefused,
    encode,
    rfc3339,
    shanghai_now,
)

# Enough to keep the broker and a batching ingest busy; far below the broker's Receive
# Maximum (65,535), and a bound on what paho holds in memory when the broker is slow.
DEFAULT_WINDOW: Final = 20_000
POLL_S: Final = 0.001
MSG_ID: Final = "<msg_id>"  # placeholders in the payload templates
TS: Final = "<ts>"


def plan(
    device_ids: Sequence[str], count: int, run_id: str, first: int = 0
) -> list[tuple[str, str]]:
    """The (device_id, msg_id) pairs of messages first … first+count-1 of a run."""
    n = len(device_ids)
    return [(device_ids[i % n], f"{run_id}-{i}") for i in range(first, first + count)]


@dataclass(frozen=True, slots=True)
class LoadResult:
    published: int
    acked: int
    refused: int
    publish_s: float  # first publish → last publish
    elapsed_s: float  # first publish → last PUBACK (or the ack timeout)

    @property
    def publish_rate(self) -> float:
        return self.published / self.publish_s if self.publish_s > 0 else 0.0

    @property
    def acked_rate(self) -> float:
        return self.acked / self.elapsed_s if self.elapsed_s > 0 else 0.0


class LoadGenerator:
    """Use it as a context manager, or connect()/close(); `run()` as often as needed.

    `devices` maps device ids to types: each reading carries its type's sensor fields
    (PROFILES), so that it passes validation. `window` bounds unacknowledged messages.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        username: str,
        password: str,
        devices: Mapping[str, DeviceType],
        *,
        connections: int = 1,
        run_id: str = "load",
        window: int = DEFAULT_WINDOW,
        now: Callable[[], datetime] = shanghai_now,
    ) -> None:
        if not devices or connections < 1:
            raise ValueError("a load needs at least one device and one connection")
        self.device_ids = list(devices)
        self.run_id, self.now = run_id, now
        self.published_at: dict[str, float] = {}
        self._next = 0
        self._connections = [
            Connection(endpoint, username, password, client_id=f"{username}-{run_id}-{k}")
            for k in range(connections)
        ]
        self._window = window
        # Per device: its topic, its connection, and its payload around msg_id and ts.
        self._routes = [
            (
                f"nuanxin/v1/{device_id}/telemetry",
                self._connections[index % connections],
                _template(devices[device_id]),
            )
            for index, device_id in enumerate(self.device_ids)
        ]

    @property
    def published(self) -> int:
        return self._next

    @property
    def acked(self) -> int:
        return sum(connection.acked for connection in self._connections)

    @property
    def refused(self) -> int:
        return sum(len(connection.refused) for connection in self._connections)

    def connect(self) -> None:
        for connection in self._connections:
            connection.connect()
            self._window = min(self._window, connection.receive_maximum)

    def close(self) -> None:
        for connection in self._connections:
            connection.close()

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sent(self) -> list[tuple[str, str]]:
        """The (device_id, msg_id) pairs published so far, in order."""
        return plan(self.device_ids, self._next, self.run_id)

    def run(
        self, count: int, *, rate: float | None = None, ack_timeout_s: float = 60.0
    ) -> LoadResult:
        """Publish `count` readings at `rate` per second (None: as fast as the window
        allows), then wait for their PUBACKs. PublishRefused if the broker refused any
        (the account may not publish there), NotConnected if it dropped a connection
        first (Mosquitto does right after a refusal, which the reset may swallow),
        AckTimeout if PUBACKs are missing after `ack_timeout_s`."""
        first, start = self._next, time.perf_counter()
        acked_before, refused_before = self.acked, self.refused
        answered_before = acked_before + refused_before
        routes, n = self._routes, len(self._routes)
        for i in _paced(first, count, rate, start):
            topic, connection, (head, middle, tail) = routes[i % n]
            msg_id = f"{self.run_id}-{i}"
            payload = f"{head}{msg_id}{middle}{rfc3339(self.now())}{tail}".encode()
            while (
                i - first - (self.acked + self.refused - answered_before) >= self._window
                and connection.connected  # else publish() says so
            ):
                time.sleep(POLL_S)
            self.published_at[msg_id] = time.time()
            connection.publish(topic, payload)
            self._next = i + 1
        published_s = time.perf_counter() - start
        deadline = time.monotonic() + ack_timeout_s
        while self.acked + self.refused - answered_before < count and time.monotonic() < deadline:
            if not all(connection.connected for connection in self._connections):
                break  # no reconnection: what is missing will never be acknowledged
            time.sleep(POLL_S)
        result = LoadResult(
            count,
            self.acked - acked_before,
            self.refused - refused_before,
            published_s,
            time.perf_counter() - start,
        )
        if result.refused:
            raise PublishRefused(f"the broker refused {result.refused} message(s): {result}")
        if result.acked < count:
            missing = f"{count - result.acked} PUBACK(s) missing: {result}"
            if not all(connection.connected for connection in self._connections):
                raise NotConnected(f"the broker dropped a connection; {missing}")
            raise AckTimeout(missing)
        return result


def _paced(first: int, count: int, rate: float | None, start: float) -> Iterator[int]:
    """Message indexes, each released no earlier than its due time at `rate`."""
    for k in range(count):
        if rate is not None:
            delay = start + k / rate - time.perf_counter()
            if delay > 0:  # behind schedule (at high rates, often): no sleep, catch up
                time.sleep(delay)
        yield first + k


def _template(device_type: DeviceType) -> tuple[str, str, str]:
    """A reading of this type split around its msg_id and ts, so that each message costs
    two string joins instead of a JSON encoding."""
    profile = PROFILES[device_type]
    fields: dict[str, object] = {"rssi": -70, "tamper": False, **profile.sensors}
    if profile.power is Power.BATTERY:
        fields.update(battery=87, battery_low=False)
    body = encode({"msg_id": MSG_ID, "ts": TS, **fields}).decode()
    head, rest = body.split(MSG_ID)
    middle, tail = rest.split(TS)
    return head, middle, tail
