"""A platform-side listener for the simulator tests: it receives what the broker
delivers and decodes it as ingest will, through `ingest.adapters.Router`."""

import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ingest.adapters import Router
from ingest.messages import Decoded
from simulators.mqtt import Connection, Endpoint

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    received_at: datetime


class Listener:
    """Subscribes with a platform account; `take(n)` returns the next n messages."""

    def __init__(self, endpoint: Endpoint, username: str, password: str, *topics: str) -> None:
        self.messages: queue.Queue[Received] = queue.Queue()
        self._subscribed = threading.Event()
        self._connection = Connection(endpoint, username, password)
        self._connection.client.on_message = self._on_message
        self._connection.client.on_subscribe = self._on_subscribe
        self._topics = topics or ("nuanxin/v1/+/+", "zigbee2mqtt/#")

    def __enter__(self) -> Self:
        self._connection.connect()
        self._connection.client.subscribe([(topic, 1) for topic in self._topics])
        assert self._subscribed.wait(TIMEOUT_S), "no SUBACK"
        return self

    def __exit__(self, *exc: object) -> None:
        self._connection.close()

    def take(self, count: int, timeout_s: float = TIMEOUT_S) -> list[Received]:
        return [self.messages.get(timeout=timeout_s) for _ in range(count)]

    def take_until(
        self, topic: str, payload: bytes, timeout_s: float = TIMEOUT_S
    ) -> list[Received]:
        """Everything up to and including this message."""
        seen: list[Received] = []
        while not seen or (seen[-1].topic, seen[-1].payload) != (topic, payload):
            seen.append(self.messages.get(timeout=timeout_s))
        return seen

    def quiet(self, seconds: float) -> bool:
        """True if nothing arrives for this long."""
        try:
            self.messages.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        received = Received(
            message.topic, bytes(message.payload), bool(message.retain), datetime.now(UTC)
        )
        self.messages.put(received)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        assert not any(code.is_failure for code in reason_codes), reason_codes
        self._subscribed.set()


def decode(router: Router, received: Received) -> list[Decoded]:
    return router.decode(received.topic, received.payload, received.received_at)
