"""Publishing many QoS 1 messages quickly and knowing when the broker has them all."""

import json
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt

from core.mqtt import new_client
from tests.support.broker import BrokerInfo


class Publisher:
    """One MQTT 5 connection; `publish_all` returns once every PUBACK arrived."""

    def __init__(self, broker: BrokerInfo, username: str, password: str) -> None:
        # the broker binds every account to its username as client id
        self.client = new_client(username, username=username, password=password)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self._acked = 0
        self._cond = threading.Condition()
        self.client.on_publish = self._on_publish
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, *args: object) -> None:
        with self._cond:
            self._acked += 1
            self._cond.notify_all()

    def publish_all(self, messages: Iterable[tuple[str, bytes]], timeout_s: float = 120) -> int:
        sent = 0
        with self._cond:
            start = self._acked
        for topic, payload in messages:
            self.client.publish(topic, payload, qos=1)
            sent += 1
        with self._cond:
            if not self._cond.wait_for(lambda: self._acked - start >= sent, timeout_s):
                raise AssertionError(f"only {self._acked - start} of {sent} publishes acknowledged")
        return sent

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def readings(
    devices: list[str], count: int, start: datetime | None = None, tag: str = "m"
) -> list[tuple[str, bytes]]:
    """`count` native readings spread over `devices`, each with a unique msg_id and ts."""
    start = start or datetime.now(UTC) - timedelta(hours=1)
    out = []
    for i in range(count):
        device = devices[i % len(devices)]
        ts = start + timedelta(milliseconds=i)
        body = {"msg_id": f"{tag}-{i}", "ts": ts.isoformat(), "battery": 90, "motion": i % 3 == 0}
        out.append((f"nuanxin/v1/{device}/telemetry", json.dumps(body).encode()))
    return out
