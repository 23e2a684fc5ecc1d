"""The one paho-mqtt wrapper every simulator publishes through (MQTT 5, callback API 2).

Errors (all `SimulatorError`):

    SimulatorError
     ├── ConnectFailed    the broker cannot be reached or refused the login (CONNACK)
     ├── NotConnected     a publish after `drop()`/`close()` or a broker-side disconnect
     ├── PublishRefused   a PUBACK said no (not authorised: Mosquitto 2.0 then also
     │                    drops the connection, so later messages are never acknowledged)
     └── AckTimeout       PUBACKs still missing when a `wait_acked` gives up

paho's own errors and return codes are translated here and nowhere else. The publish
log record (`Published`), the simulators' clock and JSON helpers and the heartbeat
`Ticker` live here too, because every simulator shares them.
"""

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Self
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.mqtt import new_client

QOS: Final = 1  # the contract's QoS for every device topic
CONNECT_TIMEOUT_S: Final = 5.0
# paho's own in-flight cap (default 20) is off: the broker's window is unlimited
# (deploy/mosquitto.conf), and with any cap paho scans every outstanding message on each
# PUBACK (client.py, _update_inflight), which collapses to a few hundred messages/s once
# thousands are in flight. Publishers that may outrun the broker keep their own window
# below `Connection.receive_maximum` (the broker's MQTT 5 Receive Maximum), which paho 2.2
# does not enforce.
UNLIMITED_INFLIGHT: Final = 0
# PUBACK reason 0x10: the broker accepted the message but no subscription matched, so
# nobody will receive it (Mosquitto 2.0 says so, e.g. after a restart, until ingest has
# subscribed again). Success to paho; for a device, a message to send again.
NO_MATCHING_SUBSCRIBERS: Final = 0x10
SHANGHAI: Final = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST in China


class SimulatorError(Exception):
    """Base of every error a simulator raises."""


class ConnectFailed(SimulatorError):
    """Raised when the broker cannot be reached or refuses the login."""


class NotConnected(SimulatorError):
    """Raised when publishing on a connection that is closed, dropped or cut."""


class PublishRefused(SimulatorError):
    """Raised when a PUBACK carried a failure reason code."""


class AckTimeout(SimulatorError):
    """Raised when PUBACKs are still missing at the deadline."""


def shanghai_now() -> datetime:
    return datetime.now(SHANGHAI)


def millis(ts: datetime) -> datetime:
    """The time a message says it was sent: RFC 3339 text carries milliseconds here."""
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000)


def rfc3339(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError("a simulator clock must return timezone-aware datetimes")
    return ts.isoformat(timespec="milliseconds")


def encode(body: Any, *, sort_keys: bool = False) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys).encode()


@dataclass(frozen=True, slots=True)
class Published:
    """One message as sent; `kind` says what it is (telemetry, event, status, will,
    `malformed:…`, state, availability, …)."""

    topic: str
    payload: bytes
    kind: str
    msg_id: str | None = None
    ts: datetime | None = None
    retained: bool = False
    info: mqtt.MQTTMessageInfo | None = field(default=None, compare=False, repr=False)

    @property
    def acked(self) -> bool:
        return self.info is not None and self.info.is_published()


class Ticker:
    """Calls `tick` every `interval_s` seconds in a daemon thread until `stop()` or until
    `tick` returns False."""

    def __init__(self, name: str, interval_s: float, tick: Callable[[], bool]) -> None:
        self._stopped = threading.Event()
        self._interval_s, self._tick = interval_s, tick
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval_s) and self._tick():
            pass


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the broker listens; `tls` set means MQTT over TLS with that context."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None

    @classmethod
    def from_url(cls, url: str, *, ca_file: str | None = None) -> Self:
        """`mqtt://host:port` or `mqtts://host:port` (verified against `ca_file`)."""
        parts = urlsplit(url)
        secure = parts.scheme == "mqtts"
        context = ssl.create_default_context(cafile=ca_file) if secure else None
        port = parts.port or (8883 if secure else 1883)
        return cls(unquote(parts.hostname or "127.0.0.1"), port, context)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def connection_usernames(username: str, connections: int) -> list[str]:
    """The accounts of `connections` parallel connections: one each, because the broker
    binds an account to one client id (its username), and a second login with it would
    take the first one's session. `simulators.accounts.load_account` creates them."""
    return [username] + [f"{username}-{k}" for k in range(1, connections)]


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    retain: bool = True


class Connection:
    """One MQTT session that publishes QoS 1 and counts PUBACKs.

    It never reconnects by itself: a simulated power cut must stay cut until the script
    says otherwise. Thread-safe for publishing; the paho network loop runs in its thread.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        username: str,
        password: str,
        *,
        client_id: str | None = None,
        will: Will | None = None,
        keepalive_s: int = 30,
        max_inflight: int = UNLIMITED_INFLIGHT,
    ) -> None:
        self.endpoint, self.username = endpoint, username
        self.client = new_client(
            # The broker binds every account to its username as client id.
            client_id or username,
            username=username,
            password=password,
            tls=endpoint.tls,
            connect_timeout_s=CONNECT_TIMEOUT_S,
            reconnect_on_failure=False,
        )
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        if will is not None:
            self.client.will_set(will.topic, will.payload, qos=QOS, retain=will.retain)
        self._keepalive_s = keepalive_s
        self.acked = 0  # successful PUBACKs; written by the network thread only
        self.refused: list[tuple[int, ReasonCode]] = []  # (mid, reason) of failed PUBACKs
        # Handles of messages acknowledged with "No matching subscribers" (counted in
        # `acked` too): taken by the broker, received by nobody.
        self.unrouted: set[mqtt.MQTTMessageInfo] = set()
        # The same, in the order they came: others read it by index while the network
        # thread appends, which a set cannot be iterated through safely.
        self.unrouted_log: list[mqtt.MQTTMessageInfo] = []
        self.receive_maximum = 65_535  # MQTT 5's default when the CONNACK names none
        self._connack: ReasonCode | None = None
        self._answered = threading.Event()
        self._connected = threading.Event()
        self._disconnected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def connect(self, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        try:
            self.client.connect(self.endpoint.host, self.endpoint.port, self._keepalive_s)
        except (OSError, ssl.SSLError) as error:
            raise ConnectFailed(f"cannot reach MQTT broker {self.endpoint}: {error}") from error
        self.client.loop_start()
        if not self._answered.wait(timeout_s):
            self.close()
            raise ConnectFailed(f"MQTT broker {self.endpoint} did not answer {self.username}")
        if self._connack is None or self._connack.is_failure:
            self.close()
            reason = self._connack.getName() if self._connack else "connection lost"
            raise ConnectFailed(f"MQTT broker {self.endpoint} refused {self.username}: {reason}")

    def send(self, message: Published) -> Published:
        """Publish a log record; return it with its delivery handle."""
        info = self.publish(message.topic, message.payload, retain=message.retained)
        return replace(message, info=info)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Queue one QoS 1 message; its PUBACK is counted when it arrives."""
        if not self.connected:
            raise NotConnected(f"{self.username} is not connected to {self.endpoint}")
        info = self.client.publish(topic, payload, qos=QOS, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
            raise NotConnected(f"{self.username}: publish failed: {mqtt.error_string(info.rc)}")
        return info

    def wait_acked(self, infos: Iterable[mqtt.MQTTMessageInfo], timeout_s: float = 5.0) -> None:
        """Block until every message has its PUBACK; raise if any was refused."""
        deadline = time.monotonic() + timeout_s
        pending = [info for info in infos if not info.is_published()]
        for info in pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.connected:
                break
            info.wait_for_publish(remaining)
        if self.refused:
            mid, reason = self.refused[0]
            raise PublishRefused(
                f"{self.username}: {len(self.refused)} publish(es) refused, "
                f"first mid {mid}: {reason.getName()}"
            )
        missing = sum(not info.is_published() for info in pending)
        if missing:
            state = "connected" if self.connected else "disconnected"
            raise AckTimeout(f"{self.username} ({state}): {missing} PUBACK(s) missing")

    def drop(self) -> None:
        """End the TCP connection without DISCONNECT, as a power cut does: the broker
        then publishes the will."""
        sock = self.client.socket()
        if isinstance(sock, socket.socket | ssl.SSLSocket):
            with contextlib.suppress(OSError):  # already gone
                sock.shutdown(socket.SHUT_RDWR)
        self._disconnected.wait(CONNECT_TIMEOUT_S)  # the network thread sees the EOF
        self.client.loop_stop()
        self._connected.clear()

    def close(self) -> None:
        """A clean DISCONNECT: the broker discards the will."""
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()

    # --- paho callbacks (network thread) -------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connack = reason_code
        if properties is not None and hasattr(properties, "ReceiveMaximum"):
            self.receive_maximum = int(properties.ReceiveMaximum)
        if not reason_code.is_failure:
            self._connected.set()
        self._answered.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self._disconnected.set()
        self._answered.set()

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        # Called with paho's outgoing-message lock held: it must take no lock that a
        # publisher holds while calling publish(), or the two threads deadlock.
        if reason_code.is_failure:
            self.refused.append((mid, reason_code))
            return
        self.acked += 1
        if reason_code.value == NO_MATCHING_SUBSCRIBERS:
            # paho names only the packet id, which it reuses; while this callback runs
            # the message is still in its outgoing table, with the publisher's handle.
            message = client._out_messages.get(mid)
            if message is not None and message.info is not None:
                self.unrouted.add(message.info)
                self.unrouted_log.append(message.info)
