"""Many simulated homes for load (`nuanxin simulate --homes N`): each home's PIR follows
the daily routine and every device sends its heartbeats, all through a few MQTT
connections of a load account — thousands of homes without thousands of threads."""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from simulators.households import LOCAL, motions_per_hour
from simulators.mqtt import (
    Connection,
    Endpoint,
    connection_usernames,
    encode,
    rfc3339,
    shanghai_now,
)

TICK_S: Final = 1.0


@dataclass(frozen=True)
class Home:
    pir: str
    others: tuple[str, ...]  # the button, smoke and gas detectors: heartbeats only


class Fleet:
    def __init__(
        self,
        endpoint: Endpoint,
        username: str,
        password: str,
        homes: list[Home],
        *,
        heartbeat_s: float = 60.0,
        speed: float = 1.0,
        clock: Callable[[], datetime] = shanghai_now,
        connections: int = 2,
    ) -> None:
        self.homes, self.heartbeat_s, self.speed, self.clock = homes, heartbeat_s, speed, clock
        self._connections = [
            Connection(endpoint, name, password)
            for name in connection_usernames(username, connections)
        ]
        self._rng = random.Random(7)
        self._stop = threading.Event()
        self._seq = 0
        self.published = 0
        self._thread = threading.Thread(target=self._run, name="fleet", daemon=True)

    def start(self) -> None:
        for connection in self._connections:
            connection.connect()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for connection in self._connections:
            connection.close()

    def _run(self) -> None:
        devices = [d for home in self.homes for d in (home.pir, *home.others)]
        next_beat = {d: time.monotonic() + self._rng.uniform(0, self.heartbeat_s) for d in devices}
        while not self._stop.wait(TICK_S):
            now = time.monotonic()
            rate = motions_per_hour(self.clock().astimezone(LOCAL).hour) * self.speed
            for home in self.homes:
                if self._rng.random() < rate * TICK_S / 3600:
                    self._send(home.pir, {"motion": True})
            for device, due in next_beat.items():
                if due <= now:
                    self._send(device, {})
                    next_beat[device] = now + self.heartbeat_s

    def _send(self, device_id: str, fields: dict[str, object]) -> None:
        self._seq += 1
        body = {"msg_id": f"fleet-{self._seq}", "ts": rfc3339(self.clock()), **fields}
        connection = self._connections[hash(device_id) % len(self._connections)]
        connection.publish(f"nuanxin/v1/{device_id}/telemetry", encode(body))
        self.published += 1
