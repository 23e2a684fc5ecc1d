"""A small synchronous MQTT 5 client for tests: every call waits for the broker's answer.

It never reconnects on its own, so a test sees exactly when and why the broker cut it.
"""

import queue
import socket
import ssl
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.mqtt import Session, new_client
from tests.support.broker import BrokerInfo

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool


class TestClient:
    __test__ = False  # not a pytest test class

    def __init__(
        self,
        broker: BrokerInfo,
        username: str | None,
        password: str | None,
        *,
        tls: bool = False,
        will: tuple[str, bytes] | None = None,
        client_id: str | None = None,
        session_expiry_s: int = 0,
        manual_ack: bool = False,
    ) -> None:
        if tls:
            assert broker.ca_file is not None and broker.tls_port is not None
        self.client = new_client(
            # An account logs in only with its own username as client id (the broker binds
            # them); anonymous clients, on brokers that allow them, get a random one.
            client_id or username or f"test-{uuid.uuid4().hex[:10]}",
            username=username,
            password=password,
            tls=ssl.create_default_context(cafile=str(broker.ca_file)) if tls else None,
            # A persistent session (session_expiry_s > 0) is resumed, not started afresh.
            session=Session(expiry_s=session_expiry_s),
            reconnect_on_failure=False,
            manual_ack=manual_ack,
        )
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.host = broker.host
        self.port = broker.tls_port if tls else broker.port
        self.messages: queue.Queue[Received] = queue.Queue()
        self.connack: ReasonCode | None = None
        self.disconnect_reason: ReasonCode | None = None
        self.disconnected = threading.Event()
        self._connack_received = threading.Event()
        self._acks: dict[int, ReasonCode] = {}  # by message id; may arrive before we look
        self._acked = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe

    def connect(self) -> ReasonCode:
        """Connect and return the CONNACK reason code (success or refusal)."""
        assert self.port is not None
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._connack_received.wait(TIMEOUT_S) or self.connack is None:
            raise AssertionError("no CONNACK")
        return self.connack

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self) -> None:
        """End the connection without DISCONNECT, as a power cut does: the will goes out."""
        sock = self.client.socket()
        assert isinstance(sock, socket.socket)
        sock.shutdown(socket.SHUT_RDWR)
        self.wait_disconnected()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> ReasonCode | None:
        """Publish; return the PUBACK reason code, or None if the broker cut the connection."""
        info = self.client.publish(topic, payload, qos=qos)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS or qos == 0:
            return None
        return self._wait_ack(info.mid)

    def publish_many(self, topic: str, payloads: list[bytes]) -> list[ReasonCode | None]:
        """Publish QoS 1 without waiting in between; return the PUBACK reason codes."""
        infos = [self.client.publish(topic, payload, qos=1) for payload in payloads]
        return [self._wait_ack(info.mid) for info in infos]

    def subscribe(self, topic: str, qos: int = 1) -> ReasonCode | None:
        """Subscribe; return the SUBACK reason code."""
        rc, mid = self.client.subscribe(topic, qos=qos)
        assert rc == MQTTErrorCode.MQTT_ERR_SUCCESS, rc
        assert mid is not None
        return self._wait_ack(mid)

    def next_message(self, timeout_s: float = TIMEOUT_S) -> Received:
        return self.messages.get(timeout=timeout_s)

    def messages_until(self, payload: bytes, timeout_s: float = TIMEOUT_S) -> list[Received]:
        """Everything received up to and including the message carrying `payload`."""
        seen: list[Received] = []
        while not seen or seen[-1].payload != payload:
            seen.append(self.messages.get(timeout=timeout_s))
        return seen

    def wait_disconnected(self, timeout_s: float = TIMEOUT_S) -> ReasonCode | None:
        if not self.disconnected.wait(timeout_s):
            raise AssertionError("still connected")
        return self.disconnect_reason

    # paho callbacks (network thread)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connack = reason_code
        self._connack_received.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.disconnect_reason = reason_code
        with self._acked:
            self.disconnected.set()
            self._acked.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.put(Received(message.topic, bytes(message.payload), bool(message.retain)))

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._ack(mid, reason_code)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self._ack(mid, reason_codes[0])

    def _ack(self, mid: int, reason_code: ReasonCode) -> None:
        with self._acked:
            self._acks[mid] = reason_code
            self._acked.notify_all()

    def _wait_ack(self, mid: int) -> ReasonCode | None:
        with self._acked:
            self._acked.wait_for(
                lambda: mid in self._acks or self.disconnected.is_set(), timeout=TIMEOUT_S
            )
            return self._acks.pop(mid, None)


def connected(broker: BrokerInfo, username: str, password: str, **kwargs: Any) -> TestClient:
    client = TestClient(broker, username, password, **kwargs)
    reason = client.connect()
    assert not reason.is_failure, f"{username} could not connect: {reason}"
    return client


def ca_path(broker: BrokerInfo) -> Path:
    assert broker.ca_file is not None
    return broker.ca_file
