"""The ingest subscriber: a paho-mqtt 2 client on MQTT 5 with a persistent session.

- Clean start off and a session expiry: while ingest is down or restarting, the broker
  keeps its QoS 1 messages, and redelivers whatever was not acknowledged.
- Manual acknowledgement: a PUBACK goes out only after the message's batch committed
  (`ack`), so a crash can cause redelivery but never loss.
- Receive Maximum bounds how many unacknowledged messages the broker sends us; it must
  hold whole batches, or throughput collapses to a few messages per commit.
- After a reconnect, packet ids of the old connection mean nothing: messages received
  before it are stored but not acknowledged, and the broker redelivers them (stored once).
"""

import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from core.mqtt import Session, new_client
from ingest import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Inbound:
    topic: str
    payload: bytes
    qos: int
    mid: int
    received_at: datetime
    generation: int  # which connection delivered it


@dataclass(frozen=True)
class SubscriberConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    client_id: str
    topics: Sequence[str] = ()  # split among the share group, if there is one
    whole_topics: Sequence[str] = ()  # never split: this process takes every message
    retired_topics: Sequence[str] = ()  # dropped from the persistent session at connect
    share_group: str | None = None  # N processes with one group split the load
    tls: bool = False
    ca_file: str | None = None
    receive_maximum: int = 5000
    session_expiry_s: int = 7 * 24 * 3600
    keepalive_s: int = 30


class Subscriber:
    def __init__(self, config: SubscriberConfig, deliver: Callable[[Inbound], None]) -> None:
        self.config = config
        self._deliver = deliver
        self._generation = 0
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self._client = new_client(
            config.client_id,
            username=config.username,
            password=config.password,
            tls=ssl.create_default_context(cafile=config.ca_file) if config.tls else None,
            session=Session(config.session_expiry_s, receive_maximum=config.receive_maximum),
            manual_ack=True,
        )
        self._client.max_inflight_messages_set(config.receive_maximum)
        # Every second, not backing off: after a broker restart the share group's
        # subscriptions are gone until ingest subscribes again, and devices are told
        # "No matching subscribers" meanwhile (docs/operations.md, "Several ingest processes").
        self._client.reconnect_delay_set(min_delay=1, max_delay=1)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self.subscribed = threading.Event()

    @property
    def subscriptions(self) -> list[str]:
        return [self._shared(t) for t in self.config.topics] + list(self.config.whole_topics)

    @property
    def retired(self) -> list[str]:
        """Filters a persistent session may still hold from an earlier configuration
        (a topic moved into or out of the group, or given to another process): left
        there, they would deliver messages twice or split what must not be split."""
        config = self.config
        forms = {
            *(t for t in config.topics if config.share_group),
            *(self._shared(t) for t in config.whole_topics if config.share_group),
            *config.retired_topics,
            *(self._shared(t) for t in config.retired_topics if config.share_group),
        }
        return sorted(forms - set(self.subscriptions))

    def _shared(self, topic: str) -> str:
        group = self.config.share_group
        return f"$share/{group}/{topic}" if group else topic

    def start(self) -> None:
        # connect_async: a broker that is down at start is retried, not fatal. The
        # persistent session (clean start off, expiry, Receive Maximum) comes with the
        # client (core.mqtt.Session).
        self._client.connect_async(
            self.config.host, self.config.port, keepalive=self.config.keepalive_s
        )
        self._client.loop_start()

    def stop(self) -> None:
        """A proper DISCONNECT: the session stays, the will is not published."""
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()
        metrics.CONNECTED.set(0)

    def ack(self, messages: Sequence[Inbound]) -> int:
        """Acknowledge committed messages of the current connection; returns how many."""
        with self._lock:
            generation = self._generation
        count = 0
        for message in messages:
            if message.qos > 0 and message.generation == generation:
                self._client.ack(message.mid, message.qos)
                count += 1
        return count

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker %s:%s refused ingest: %s", self.config.host, self.config.port, reason)
            return
        with self._lock:
            self._generation += 1
        # Retained status messages only on a new subscription, not on every reconnect.
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe([(topic, options) for topic in self.subscriptions])
        if self.retired:
            client.unsubscribe(self.retired)
        self.connected.set()
        metrics.CONNECTED.set(1)
        log.info(
            "ingest connected to %s:%s (session present: %s)",
            self.config.host,
            self.config.port,
            flags.session_present,
        )

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [
            topic
            for topic, reason in zip(self.subscriptions, reasons, strict=False)
            if reason.is_failure
        ]
        if refused:
            log.error("broker refused subscriptions %s: check the ingest account's ACL", refused)
            return
        self.subscribed.set()
        log.info("ingest subscribed to %s", ", ".join(self.subscriptions))

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected.clear()
        metrics.CONNECTED.set(0)
        if reason.is_failure:
            log.warning("ingest lost the broker connection (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        metrics.MESSAGES_IN.inc()
        self._deliver(
            Inbound(
                topic=message.topic,
                payload=bytes(message.payload),
                qos=message.qos,
                mid=message.mid,
                received_at=datetime.now(UTC),
                generation=self._generation,
            )
        )
