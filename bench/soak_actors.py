"""What runs beside `nuanxin serve` during a soak (bench/soak.py): the homes' steady load,
the buttons pressed in turn, the community worker who acknowledges and resolves, and the
broker's own figures. Each keeps what went wrong instead of raising: a soak reports it."""

import threading
import time
from typing import Any

import httpx
import paho.mqtt.client as mqtt

from alerting.notifiers.callbacks import CallbackPath
from bench.ingest import LOAD_USER, Rig
from core.mqtt import new_client
from core.types import DeviceType
from embedded.mosquitto import BrokerInfo
from simulators.devices import SimulatedDevice
from simulators.load import LoadGenerator
from simulators.mqtt import Endpoint, SimulatorError
from simulators.twilio_server import TwilioServer

RUN_ID = "soak"
WORKER_PHONE = "+14155550101"  # bench/seed.py's community worker
RESPONDER = ("soak-admin", "soak-admin-password")
RESPOND_EVERY_S = 2.0
DRAIN_TIMEOUT_S = 120.0  # after the load: for the last readings and SMS to arrive


class BrokerStats:
    """The broker's $SYS figures as last published (Mosquitto: every 10 s), read through
    the dynamic-security admin account, the one that may subscribe to $SYS."""

    def __init__(self, broker: BrokerInfo) -> None:
        self._values: dict[str, str] = {}
        self._client = new_client(
            "bench-soak-sys", username=broker.admin_username, password=broker.admin_password
        )
        self._client.on_connect = lambda client, *_: client.subscribe("$SYS/broker/#")
        self._client.on_message = self._on_message
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()

    def number(self, topic: str) -> float | None:
        value = self._values.get(f"$SYS/broker/{topic}")
        return None if value is None else float(value)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._values[message.topic] = message.payload.decode(errors="replace")


class Responder:
    """The community worker on the phone and in the app, every `RESPOND_EVERY_S`: resolves
    what was acknowledged on the previous round, then answers each new alert SMS with
    收到 and its code.
    Failures are counted, not raised: a soak reports them."""

    def __init__(self, api_url: str, twilio: TwilioServer) -> None:
        self._http = httpx.Client(base_url=api_url, timeout=10)
        self._twilio, self._inbound = twilio, api_url + CallbackPath.TWILIO_SMS_INBOUND.value
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="responder", daemon=True)

    def start(self) -> None:
        username, password = RESPONDER
        answer = self._http.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        answer.raise_for_status()
        self._http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(30)
        self._http.close()

    def _run(self) -> None:
        while not self._stop.wait(RESPOND_EVERY_S):
            try:
                self._round()
            except (httpx.HTTPError, KeyError, ValueError):
                self.errors += 1

    def _round(self) -> None:
        answer = self._http.get("/api/v1/alerts", params={"status": "active", "limit": 500})
        answer.raise_for_status()
        alerts = answer.json()
        for alert in alerts:
            if alert["status"] == "acknowledged":
                resolved = self._http.post(
                    f"/api/v1/alerts/{alert['id']}/resolve", json={"outcome": "handled"}
                )
                self.errors += resolved.status_code != 200
        # Each reply names its alert's code, as the SMS asks: with several alerts open a
        # bare 收到 would acknowledge none of them.
        for alert in [a for a in alerts if a["status"] == "notified"]:
            body = f"收到 #{alert['id']}"
            reply = self._twilio.post_inbound_sms(self._inbound, WORKER_PHONE, body)
            self.errors += reply.status != 200


class Presser:
    """Presses the connected buttons in turn, one every `every_s`, and keeps when."""

    def __init__(self, buttons: list[SimulatedDevice], every_s: float) -> None:
        self.presses: list[tuple[str, float]] = []
        self.errors: list[str] = []
        self._buttons, self._every_s = buttons, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="presser", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(30)

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(self._every_s):
            button = self._buttons[n % len(self._buttons)]
            n += 1
            pressed_at = time.time()
            try:
                button.press()
            except SimulatorError as error:  # a button cut off: reported, the others go on
                self.errors.append(f"press of {button.device_id}: {error}")
                continue
            self.presses.append((button.device_id, pressed_at))


class Load:
    """The homes' readings at a steady rate, in a thread; what went wrong is kept."""

    def __init__(self, rig: Rig, devices: dict[str, DeviceType], count: int, rate: int) -> None:
        endpoint = Endpoint(rig.broker.host, rig.broker.port)
        self.generator = LoadGenerator(endpoint, LOAD_USER, rig.secret, devices, run_id=RUN_ID)
        self.error: str | None = None
        self._count, self._rate = count, rate
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)

    def start(self) -> None:
        self.generator.connect()
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        self.generator.close()

    def _run(self) -> None:
        try:
            self.generator.run(self._count, rate=self._rate, ack_timeout_s=DRAIN_TIMEOUT_S)
        except Exception as error:  # the soak reports it; it must not kill the sampler
            self.error = f"load: {type(error).__name__}: {error}"
