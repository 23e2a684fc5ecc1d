"""A connection to Mosquitto's dynamic-security API: the command seam `BrokerAdmin`
(provisioning.py) builds on.

It logs in with the broker's dynamic-security admin account, publishes JSON commands to
`$CONTROL/dynamic-security/v1` and matches each reply on `…/v1/response` by its
`correlationData` (every admin connection sees every reply). paho errors and reason
codes become the registry's errors here (device_registry/errors.py).

Each connection has a client id of its own under the platform's reserved prefix
(`nuanxin-admin-…`): the admin account is the one account not bound to a single client
id, because the API and a `nuanxin broker sync` run use it at the same time, and a bound
id would make them cut each other off.
"""

import json
import ssl
import threading
import uuid
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.identity import PLATFORM_PREFIX
from core.mqtt import new_client
from device_registry.errors import (
    BrokerAdminDenied,
    BrokerAdminError,
    BrokerCommandFailed,
    BrokerCommandTimeout,
    BrokerUnavailable,
)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
ADMIN_CLIENT_ID_PREFIX = f"{PLATFORM_PREFIX}admin-"


class BrokerConnection:
    """A connection to the broker's dynamic-security API; use it as a context manager.

    Thread-safe: commands from several threads are matched to their own replies. If the
    connection drops, paho reconnects in the background and commands wait for it up to
    the timeout.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        tls_context: ssl.SSLContext | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._username, self._tls_context = username, tls_context
        self._pending: dict[str, dict[str, Any]] = {}
        self._pending_lock = threading.Lock()
        self._ready = threading.Event()  # connected and subscribed to the replies
        self._settled = threading.Event()  # the first connection attempt has an outcome
        self._failure: BrokerAdminError | None = None
        self._client = self._new_client(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    @classmethod
    def from_url(
        cls,
        url: str,
        username: str,
        password: str,
        *,
        ca_file: str | None = None,
        timeout_s: float = 5.0,
    ) -> Self:
        """From `mqtt://host:port` or `mqtts://host:port` (TLS verified against ca_file)."""
        parts = urlsplit(url)
        tls = parts.scheme == "mqtts"
        context = ssl.create_default_context(cafile=ca_file) if tls else None
        host = unquote(parts.hostname or "127.0.0.1")
        port = parts.port or (8883 if tls else 1883)
        return cls(host, port, username, password, tls_context=context, timeout_s=timeout_s)

    @property
    def broker(self) -> str:
        return f"{self.host}:{self.port}"

    # --- connection --------------------------------------------------------------

    def connect(self) -> None:
        try:
            self._client.connect(self.host, self.port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            raise BrokerUnavailable(f"cannot reach MQTT broker {self.broker}: {exc}") from exc
        self._client.loop_start()
        if not self._settled.wait(self.timeout_s):
            self.close()
            raise BrokerUnavailable(f"MQTT broker {self.broker} did not answer the login")
        if self._failure is not None:
            self.close()
            raise self._failure

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the command seam --------------------------------------------------------

    def execute(self, command: str, **fields: Any) -> dict[str, Any]:
        """Run one dynamic-security command; return its `data` (empty for most).

        Raises BrokerCommandFailed with the broker's error text, BrokerCommandTimeout, or
        BrokerUnavailable when the connection is down for longer than the timeout.
        """
        if not self._ready.wait(self.timeout_s):
            raise self._failure or BrokerUnavailable(f"no connection to MQTT broker {self.broker}")
        correlation = uuid.uuid4().hex
        slot: dict[str, Any] = {"done": threading.Event()}
        with self._pending_lock:
            self._pending[correlation] = slot
        try:
            body = {"commands": [{"command": command, **fields, "correlationData": correlation}]}
            info = self._client.publish(CONTROL_TOPIC, json.dumps(body), qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise BrokerUnavailable(
                    f"cannot send {command!r} to {self.broker}: {mqtt.error_string(info.rc)}"
                )
            if not slot["done"].wait(self.timeout_s):
                raise BrokerCommandTimeout(command, self.timeout_s)
        finally:
            with self._pending_lock:
                self._pending.pop(correlation, None)
        if "lost" in slot:
            raise BrokerUnavailable(
                f"connection to MQTT broker {self.broker} lost during {command!r}: {slot['lost']}"
            )
        reply: dict[str, Any] = slot["reply"]
        if "error" in reply:
            subject = fields.get("username") or fields.get("rolename") or fields.get("groupname")
            raise BrokerCommandFailed(command, str(reply["error"]), subject)
        data: dict[str, Any] = reply.get("data") or {}
        return data

    # --- helpers -------------------------------------------------------------

    def _execute_ignoring(self, command: str, error: str, **fields: Any) -> None:
        try:
            self.execute(command, **fields)
        except BrokerCommandFailed as exc:
            if exc.error != error:
                raise

    def get_client(self, username: str) -> dict[str, Any] | None:
        """The broker's record of a client (roles, groups, `clientid`), or None."""
        try:
            client: dict[str, Any] = self.execute("getClient", username=username)["client"]
        except BrokerCommandFailed as exc:
            if exc.error == "Client not found":
                return None
            raise
        return client

    def _new_client(self, username: str, password: str) -> mqtt.Client:
        return new_client(
            f"{ADMIN_CLIENT_ID_PREFIX}{uuid.uuid4().hex[:12]}",
            username=username,
            password=password,
            tls=self._tls_context,
            connect_timeout_s=self.timeout_s,
        )

    # --- paho callbacks (network thread) -----------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._failure = BrokerAdminDenied(
                f"MQTT broker {self.broker} refused admin login {self._username!r}: "
                f"{reason_code.getName()} (a wrong password, or not the dynamic-security "
                "admin: every other account logs in only with its own client id)"
            )
            client.disconnect()  # stops paho from retrying a login that cannot succeed
            self._settled.set()
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if reason_codes and reason_codes[0].is_failure:
            self._failure = BrokerAdminDenied(
                f"account {self._username!r} may not read {RESPONSE_TOPIC} on {self.broker}: "
                f"{reason_codes[0].getName()} (is it the dynamic-security admin?)"
            )
            client.disconnect()
        else:
            self._failure = None
            self._ready.set()
        self._settled.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._ready.clear()
        with self._pending_lock:
            for slot in self._pending.values():
                slot["lost"] = reason_code.getName()
                slot["done"].set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            replies = json.loads(message.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return  # not a dynamic-security reply; nothing waits for it
        with self._pending_lock:
            for reply in replies:
                slot = self._pending.get(str(reply.get("correlationData")))
                if slot is not None:
                    slot["reply"] = reply
                    slot["done"].set()
