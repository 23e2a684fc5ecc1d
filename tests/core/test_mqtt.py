"""core.mqtt.new_client, the one way the project builds an MQTT client, against the
project's broker: a clean client leaves no session behind (the accident: a demo or a
probe that fills the broker with sessions and stored messages), a persistent one gets
what arrived while it was away, and a caller cannot pick another session at connect."""

import queue
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.mqtt import CLEAN, Session, new_client
from device_registry.provisioning import BrokerAdmin
from tests.support.broker import BrokerInfo
from tests.support.mqtt_clients import connected

INGEST = ("nuanxin-ingest", "ingest-password")
DEVICE = "btn-0200"
TOPIC = f"nuanxin/v1/{DEVICE}/event"
WAIT_S = 5.0


class Watched:
    """One connection of the ingest account, with what the broker said and sent."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self.session_present: bool | None = None
        self.messages: queue.Queue[bytes] = queue.Queue()
        self._connected, self._subscribed = threading.Event(), threading.Event()
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *args: self._subscribed.set()
        client.on_message = lambda c, u, message: self.messages.put(bytes(message.payload))

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        assert not reason.is_failure, reason
        self.session_present = flags.session_present
        self._connected.set()

    def subscribe(self) -> None:
        self.client.subscribe(TOPIC, qos=1)
        assert self._subscribed.wait(WAIT_S)


@contextmanager
def ingest_session(broker: BrokerInfo, session: Session) -> Iterator[Watched]:
    client = new_client(INGEST[0], username=INGEST[0], password=INGEST[1], session=session)
    watched = Watched(client)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert watched._connected.wait(WAIT_S), "no CONNACK"
        yield watched
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def device_password(broker: BrokerInfo) -> str:
    with BrokerAdmin(broker.host, broker.port, "admin", broker.admin_password) as admin:
        admin.ensure_platform_account(*INGEST)
        return admin.provision_device(DEVICE)


def publish_while_away(broker: BrokerInfo, password: str) -> None:
    with connected(broker, DEVICE, password) as device:
        assert device.publish(TOPIC, b"pressed while ingest was away") is not None


def test_a_clean_client_leaves_no_session_behind(broker: BrokerInfo, device_password: str) -> None:
    with ingest_session(broker, CLEAN) as first:
        first.subscribe()
    publish_while_away(broker, device_password)

    with ingest_session(broker, Session(expiry_s=3600)) as later:
        assert later.session_present is False
        with pytest.raises(queue.Empty):
            later.messages.get(timeout=1.0)


def test_a_persistent_client_gets_what_arrived_while_it_was_away(
    broker: BrokerInfo, device_password: str
) -> None:
    persistent = Session(expiry_s=3600, receive_maximum=100)
    with ingest_session(broker, persistent) as first:
        assert first.session_present is False
        first.subscribe()
    publish_while_away(broker, device_password)

    with ingest_session(broker, persistent) as again:
        assert again.session_present is True
        assert again.messages.get(timeout=WAIT_S) == b"pressed while ingest was away"


@pytest.mark.parametrize(
    "asked", [{"clean_start": False}, {"properties": CLEAN.connect_properties()}]
)
def test_the_session_cannot_be_changed_at_connect(asked: dict[str, object]) -> None:
    client = new_client("nobody")
    with pytest.raises(ValueError, match="new_client"):
        client.connect_async("127.0.0.1", 1, **asked)  # type: ignore[arg-type]


FOLDERS = (
    *("api", "bench", "cli", "core", "alerting", "device_registry", "ingest", "simulators"),
    "tests",
)


def test_every_mqtt_client_is_built_by_the_factory() -> None:
    """A client built elsewhere would choose its own session and protocol."""
    root = Path(__file__).resolve().parents[2]
    direct = re.compile(
        r"\b(?:mqtt|paho\.mqtt\.client)\.Client\(|^from paho\.mqtt\.client import .*\bClient\b",
        re.M,
    )
    offenders = [
        str(path.relative_to(root))
        for folder in (
            "api",
            "bench",
            "cli",
            "core",
            "alerting",
            "device_registry",
            "ingest",
            "simulators",
            "tests",
        )
        for path in (root / folder).rglob("*.py")
        if path != root / "core" / "mqtt.py" and direct.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
