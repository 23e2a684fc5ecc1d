"""One demo per broker: two demos on one broker would share device ids, topics and
client ids, and each would take the other's devices away.

A demo on a broker it did not start claims it with a retained message on
`nuanxin-demo/running` (outside the device topics, so ingest never sees it), naming its
process, host and API. The claim is cleared when the demo stops, by the broker (the
claiming client's will) when the demo dies, and counts as stale when it was not renewed
for a while (the broker restarted and lost the will). Two demos claiming at the same
moment both see both claims: the one with the smaller token keeps the broker, the other
refuses. The claiming client keeps no session (clean start, session expiry 0).
"""

import json
import os
import socket
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from cli.demo_database import DemoError
from core.mqtt import new_client

CLAIM_TOPIC = "nuanxin-demo/running"
RENEW_S = 10.0
STALE_AFTER_S = 3 * RENEW_S
RETAINED_WAIT_S = 1.0  # for the broker to send a retained claim after SUBACK
CONTEST_WAIT_S = 1.0  # for a claim made at the same moment to arrive


class BrokerClaim:
    def __init__(
        self,
        host: str,
        port: int,
        option: str,
        what: dict[str, Any],
    ) -> None:
        self.host, self.port, self.option = host, port, option
        self.token = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"  # earlier wins a tie
        self._what = {**what, "pid": os.getpid(), "host": socket.gethostname()}
        self._others: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._refused = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._client = new_client(f"nuanxin-demo-claim-{uuid.uuid4().hex[:12]}")
        # A demo that dies clears its claim: the broker publishes this empty retained
        # message when the connection ends without DISCONNECT.
        self._client.will_set(CLAIM_TOPIC, b"", qos=1, retain=True)
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    def acquire(self) -> bool:
        """Claim the broker or raise DemoError naming the demo that holds it; False when
        the broker refuses the claim's subscription (an ACL)."""
        try:
            self._client.connect(self.host, self.port, keepalive=10)
        except OSError as exc:
            raise DemoError(f"cannot reach the MQTT broker at {self._where()}: {exc}") from None
        self._client.loop_start()
        self._client.subscribe(CLAIM_TOPIC, qos=1)
        if not self._subscribed.wait(5):
            self._close()
            raise DemoError(f"the MQTT broker at {self._where()} did not answer a subscription")
        if self._refused:
            self._close()
            return False
        time.sleep(RETAINED_WAIT_S)
        self._refuse_if(self._holder(lambda token: True))
        self._publish()
        time.sleep(CONTEST_WAIT_S)
        self._refuse_if(self._holder(lambda token: token < self.token))
        self._publish()  # the last retained claim must be ours, not a loser's
        self._renewer = threading.Thread(target=self._renew, name="demo-claim", daemon=True)
        self._renewer.start()
        return True

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(5)
            self._client.publish(CLAIM_TOPIC, b"", qos=1, retain=True).wait_for_publish(5)
        self._close()

    def _holder(self, wins: Any) -> dict[str, Any] | None:
        now = time.time()
        with self._lock:
            for token, claim in sorted(self._others.items()):
                if wins(token) and now - float(claim.get("at", 0)) < STALE_AFTER_S:
                    return claim
        return None

    def _refuse_if(self, holder: dict[str, Any] | None) -> None:
        if holder is None:
            return
        self._close()
        api = holder.get("api", "?")
        raise DemoError(
            f"the MQTT broker at {self._where()} is in use by another nuanxin demo (pid "
            f"{holder.get('pid')} on {holder.get('host')}, API {api}): stop it, or give this "
            f"one another broker with {self.option} HOST:PORT"
        )

    def _publish(self) -> None:
        payload = json.dumps({**self._what, "token": self.token, "at": time.time()})
        self._client.publish(CLAIM_TOPIC, payload, qos=1, retain=True).wait_for_publish(5)

    def _renew(self) -> None:
        while not self._stop.wait(RENEW_S):
            self._publish()

    def _close(self) -> None:
        self._client.disconnect()  # a proper DISCONNECT: the will is not published
        self._client.loop_stop()

    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    # --- paho callbacks (network thread) ---------------------------------------------

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self._refused = any(code.is_failure for code in reason_codes)
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            claim = json.loads(message.payload) if message.payload else None
        except ValueError:
            return  # not a demo's claim: nothing to honour
        if not isinstance(claim, dict) or claim.get("token") in (None, self.token):
            return
        with self._lock:
            self._others[str(claim["token"])] = claim
        if self._renewer is not None:  # we hold the broker: a newcomer lost, keep ours last
            threading.Thread(target=self._publish, daemon=True).start()
