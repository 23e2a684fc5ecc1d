"""Load generator for benchmarks: many devices' readings through one or a few MQTT
connections of a load account (one that may publish any `nuanxin/v1/+/telemetry`).

Message `i` of a run (0-based, across `run()` calls) belongs to device `i mod N` in the
order the devices were given, and carries msg_id `{run_id}-{i}`; `plan()` rebuilds that
list without a broker, so a benchmark can check what got stored. Every device always
publishes through the same connection, so its readings reach the broker in order.

Each publish records its wall-clock time (`published_at[msg_id]`, epoch seconds) for
publish→commit latency, measured later against the database's commit times.

`SteadyLoad` is the other shape: a steady rate from a thread of its own that outlives
the broker going away (it connects again), and knows which messages were acknowledged.
"""

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Self

import paho.mqtt.client as mqtt

from core.types import DeviceType
from simulators.devices import PROFILES, Power
from simulators.mqtt import (
    AckTimeout,
    ConnectFailed,
    Connection,
    Endpoint,
    NotConnected,
    PublishRefused,
    SimulatorError,
    connection_usernames,
    encode,
    rfc3339,
    shanghai_now,
)

# Enough to keep the broker and a batching ingest busy; far below the broker's Receive
# Maximum (65,535), and a bound on what paho holds in memory when the broker is slow.
DEFAULT_WINDOW: Final = 20_000
POLL_S: Final = 0.001
RECONNECT_S: Final = 0.2  # between attempts while the broker is away
RESEND_UNROUTED_S: Final = 1.0  # a message nobody received goes again after this pause
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
            Connection(endpoint, name, password)
            for name in connection_usernames(username, connections)
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


class SteadyLoad:
    """Readings at `rate` per second from a thread of its own, through one connection
    that is opened again whenever the broker goes away, as a fleet keeps publishing
    across a broker restart. Messages due while it is away go out once it is back.

    Message `i` (counted over the whole load) belongs to device `i mod N` and carries
    msg_id `{tag}-{i}`, with the `tag` of the moment: a benchmark changes it to tell its
    phases apart. Every message keeps its delivery handle, so `acked(tag)` names exactly
    the ones the broker acknowledged with Success, and `unrouted(tag)` counts those it
    acknowledged with "No matching subscribers" (taken, but received by nobody). Those are
    sent again after RESEND_UNROUTED_S, same msg_id and ts, as the device contract asks
    (docs/device-contract.md), until one is acknowledged with Success; `resent(tag)` counts
    the copies. Ones whose connection was lost before their PUBACK are not sent again; they
    may or may not have reached the broker.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        username: str,
        password: str,
        devices: Mapping[str, DeviceType],
        rate: float,
        *,
        tag: str = "steady",
        window: int = DEFAULT_WINDOW,
        now: Callable[[], datetime] = shanghai_now,
    ) -> None:
        if not devices or rate <= 0:
            raise ValueError("a steady load needs at least one device and a positive rate")
        self.device_ids = list(devices)
        self.rate, self.tag, self.now = rate, tag, now
        self.reconnects = 0
        self.refused = 0  # failed PUBACKs of connections already replaced
        self._unrouted: set[mqtt.MQTTMessageInfo] = set()  # of connections replaced
        # Every message's (tag, index, topic, payload), to send an unrouted one again; the
        # unrouted ones waiting for that, oldest first, with when they were seen; how far
        # the current connection's unrouted_log has been read.
        self._sent_as: dict[mqtt.MQTTMessageInfo, tuple[str, int, str, bytes]] = {}
        self._to_resend: collections.deque[tuple[float, mqtt.MQTTMessageInfo]] = collections.deque()
        self._unrouted_read = 0
        self._resent: dict[str, int] = {}
        self._login = (endpoint, username, password, username)
        self._routes = [
            (f"nuanxin/v1/{d}/telemetry", _template(devices[d])) for d in self.device_ids
        ]
        self._window = window
        self._log: dict[str, list[tuple[int, mqtt.MQTTMessageInfo]]] = {}
        self._connection: Connection | None = None
        self._here: list[mqtt.MQTTMessageInfo] = []  # what the current connection carried
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-load", daemon=True)

    def start(self) -> None:
        """Connect (ConnectFailed if the broker cannot be reached now), then publish."""
        self._connection = self._connect()
        self._thread.start()

    def stop(self, ack_timeout_s: float = 60.0) -> None:
        """Stop publishing, wait for the PUBACKs still due on the connection, disconnect."""
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join()
        connection = self._connection
        if connection is None:
            return
        with contextlib.suppress(SimulatorError):  # what is missing is not acknowledged
            connection.wait_acked(self._here, ack_timeout_s)
        self._retire(connection)

    def sent(self, tag: str) -> int:
        """Messages of this tag handed to a connection, acknowledged or not."""
        return len(self._log.get(tag, ()))

    def acked(self, tag: str) -> list[tuple[str, str]]:
        """(device_id, msg_id) of the messages of this tag acknowledged with Success."""
        n, unrouted = len(self.device_ids), self._all_unrouted()
        return [
            (self.device_ids[i % n], f"{tag}-{i}")
            for i, info in list(self._log.get(tag, ()))
            if info.is_published() and info not in unrouted
        ]

    def unrouted(self, tag: str) -> int:
        """Messages of this tag acknowledged with "No matching subscribers"."""
        unrouted = self._all_unrouted()
        return sum(info in unrouted for _, info in list(self._log.get(tag, ())))

    def resent(self, tag: str) -> int:
        """Copies of this tag's unrouted messages sent again."""
        return self._resent.get(tag, 0)

    def _all_unrouted(self) -> set[mqtt.MQTTMessageInfo]:
        current = self._connection
        return self._unrouted | set(current.unrouted_log if current is not None else ())

    def _run(self) -> None:
        start, i = time.perf_counter(), 0
        while not self._stop.is_set():
            delay = start + i / self.rate - time.perf_counter()
            if delay > 0 and self._stop.wait(delay):
                return
            if self._resend_unrouted() and self._publish(i):
                i += 1
            else:
                self._reconnect()

    def _resend_unrouted(self) -> bool:
        """Send again each unrouted message seen RESEND_UNROUTED_S ago or more; False if
        the connection is gone."""
        assert self._connection is not None
        self._note_unrouted(self._connection)
        cutoff = time.monotonic() - RESEND_UNROUTED_S
        while self._to_resend and self._to_resend[0][0] <= cutoff:
            tag, i, topic, payload = self._sent_as[self._to_resend[0][1]]
            if not self._send(tag, i, topic, payload):
                return False
            del self._sent_as[self._to_resend.popleft()[1]]
            self._resent[tag] = self._resent.get(tag, 0) + 1
        return True

    def _note_unrouted(self, connection: Connection) -> None:
        """Queue for sending again what the connection reported unrouted since last time."""
        log, seen = connection.unrouted_log, time.monotonic()
        new = log[self._unrouted_read : len(log)]
        self._unrouted_read += len(new)
        self._to_resend.extend((seen, info) for info in new)

    def _publish(self, i: int) -> bool:
        """Publish message i; False if the connection is gone (it was not sent)."""
        connection = self._connection
        assert connection is not None
        while (
            len(self._here) - connection.acked - len(connection.refused) >= self._window
            and connection.connected
        ):
            time.sleep(POLL_S)
        topic, (head, middle, tail) = self._routes[i % len(self._routes)]
        tag = self.tag
        payload = f"{head}{tag}-{i}{middle}{rfc3339(self.now())}{tail}".encode()
        return self._send(tag, i, topic, payload)

    def _send(self, tag: str, i: int, topic: str, payload: bytes) -> bool:
        connection = self._connection
        assert connection is not None
        try:
            info = connection.publish(topic, payload)
        except NotConnected:
            return False
        self._log.setdefault(tag, []).append((i, info))
        self._sent_as[info] = (tag, i, topic, payload)
        self._here.append(info)
        return True

    def _reconnect(self) -> None:
        if self._connection is not None:
            self._note_unrouted(self._connection)
            self._retire(self._connection)
            self._unrouted_read = 0
        while not self._stop.is_set():
            try:
                self._connection = self._connect()
            except ConnectFailed:
                self._stop.wait(RECONNECT_S)
                continue
            self._here = []
            self.reconnects += 1
            return

    def _retire(self, connection: Connection) -> None:
        """Keep what a connection learnt, then close it."""
        self.refused += len(connection.refused)
        self._unrouted.update(connection.unrouted_log)
        connection.close()

    def _connect(self) -> Connection:
        endpoint, username, password, client_id = self._login
        connection = Connection(endpoint, username, password, client_id=client_id)
        connection.connect()
        self._window = min(self._window, connection.receive_maximum)
        return connection


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
