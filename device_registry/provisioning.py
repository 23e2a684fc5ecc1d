"""MQTT credentials and ACLs, managed through Mosquitto's dynamic-security plugin.

`BrokerAdmin` logs in with the broker's dynamic-security admin account, publishes JSON
commands to `$CONTROL/dynamic-security/v1` and matches each reply on
`…/v1/response` by its `correlationData` (every admin connection sees every reply).

What the broker holds, and why:

- one client per device, named by the device id (the device's MQTT username), with a
  random password that is returned once and never stored by us (the broker keeps only
  a salted hash);
- one role per device, `device:{device_id}`, from DEVICE_ACLS: it may publish under
  `nuanxin/v1/{device_id}/` except its own `cmd`, and subscribe to and receive only its
  own `cmd`;
- one `platform` role shared by the platform's accounts (ingest, API), from
  PLATFORM_ACLS;
- the broker-wide default ACL access of DEFAULT_ACL_ACCESS, which the device roles rely
  on: whatever a role does not allow, a device may neither publish nor subscribe.

Mosquitto 2.0 disconnects every session of a client whose password, roles or role ACLs
change, and a deleted client's sessions too; the operations below rely on that to cut
revoked devices off, and avoid needless changes so re-running setup does not disconnect
a running ingest.
"""

import json
import re
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from device_registry.errors import (
    AccountConflict,
    BrokerAdminDenied,
    BrokerAdminError,
    BrokerCommandFailed,
    BrokerCommandTimeout,
    BrokerUnavailable,
    DeviceNotProvisioned,
    InvalidDeviceId,
)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{3,64}$")
DEVICE_ROLE_PREFIX = "device:"
PLATFORM_ROLE = "platform"


@dataclass(frozen=True)
class Acl:
    """One dynamic-security ACL; higher priority is checked first within a role."""

    acltype: str
    topic: str
    allow: bool = True
    priority: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "acltype": self.acltype,
            "topic": self.topic,
            "allow": self.allow,
            "priority": self.priority,
        }


# `{device_id}` is filled in per device; device ids cannot hold MQTT wildcards.
DEVICE_ACLS = (
    # `#` also matches `nuanxin/v1/{device_id}` itself (MQTT semantics); nothing reads it.
    Acl("publishClientSend", "nuanxin/v1/{device_id}/#"),
    # Commands flow platform → device only; a device posting into its own cmd topic
    # would reach the platform's subscription as if the platform had sent it.
    Acl("publishClientSend", "nuanxin/v1/{device_id}/cmd", allow=False, priority=10),
    Acl("subscribePattern", "nuanxin/v1/{device_id}/cmd"),
    Acl("publishClientReceive", "nuanxin/v1/{device_id}/cmd", priority=10),
    # Receiving defaults to allow; deny the rest in case a broader subscribe grant is
    # ever added to a device through another role.
    Acl("publishClientReceive", "#", allow=False, priority=-10),
)

PLATFORM_ACLS = (
    # All of nuanxin/v1/#, not just +/+: a device may publish deeper under its own prefix,
    # and ingest must see (and quarantine) that rather than let it vanish.
    Acl("subscribePattern", "nuanxin/v1/#"),
    # Mosquitto 2.0 checks a shared subscription against its full `$share/…` filter.
    Acl("subscribePattern", "$share/+/nuanxin/v1/#"),
    Acl("subscribePattern", "zigbee2mqtt/#"),
    Acl("subscribePattern", "$share/+/zigbee2mqtt/#"),
    Acl("publishClientReceive", "nuanxin/v1/#"),
    Acl("publishClientReceive", "zigbee2mqtt/#"),
    Acl("publishClientSend", "nuanxin/v1/+/cmd"),
)

# Mosquitto's own defaults, pinned so the device ACLs stay "allow-list only" even on a
# broker where someone changed them by hand.
DEFAULT_ACL_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": True,
    "subscribe": False,
    "unsubscribe": True,
}


def device_role(device_id: str) -> str:
    return f"{DEVICE_ROLE_PREFIX}{device_id}"


def device_acls(device_id: str) -> list[Acl]:
    return [
        Acl(a.acltype, a.topic.format(device_id=device_id), a.allow, a.priority)
        for a in DEVICE_ACLS
    ]


def check_device_id(device_id: str) -> str:
    if not DEVICE_ID.fullmatch(device_id):
        raise InvalidDeviceId(f"invalid device id {device_id!r}: must match {DEVICE_ID.pattern}")
    return device_id


class BrokerAdmin:
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

    # --- devices -----------------------------------------------------------------

    def provision_device(self, device_id: str) -> str:
        """Give the device its own client and role; return its new password (shown once).

        Provisioning an existing device client resets it (new password, today's ACLs) and
        disconnects its sessions. That heals the orphan a registration leaves when its
        database transaction rolls back after the broker said yes; the registry calls this
        only after inserting the device row, whose unique key keeps a live device from
        being provisioned twice. A client that is not a device's (a platform account of
        the same name) is never touched: AccountConflict.
        """
        role = device_role(check_device_id(device_id))
        password = secrets.token_urlsafe(24)
        client = self._get_client(device_id)
        if client is not None:
            others = {r["rolename"] for r in client.get("roles", [])} - {role}
            if others or client.get("groups"):
                raise AccountConflict(
                    f"MQTT account {device_id!r} exists and is not a device's "
                    f"(roles {sorted(others)}); refusing to reuse it"
                )
        self._ensure_role(role, device_acls(device_id))
        if client is None:
            self.execute(
                "createClient",
                username=device_id,
                password=password,
                roles=[{"rolename": role}],
                textname=f"nuanxin device {device_id}",
            )
            return password
        if client.get("disabled"):
            self.execute("enableClient", username=device_id)
        self.execute(
            "modifyClient", username=device_id, password=password, roles=[{"rolename": role}]
        )
        return password

    def rotate_device_password(self, device_id: str) -> str:
        """Give the device a new password; the broker disconnects sessions using the old."""
        password = secrets.token_urlsafe(24)
        try:
            self.execute(
                "setClientPassword", username=check_device_id(device_id), password=password
            )
        except BrokerCommandFailed as exc:
            if exc.error == "Client not found":
                raise DeviceNotProvisioned(device_id) from None
            raise
        return password

    def revoke_device(self, device_id: str) -> None:
        """Delete the device's client and role. Idempotent, so a failed revoke can be rerun.

        Deleting the client disconnects its live sessions (Mosquitto 2.0 kicks them), and
        without the client no login succeeds.
        """
        check_device_id(device_id)
        self._execute_ignoring("deleteClient", "Client not found", username=device_id)
        self._execute_ignoring("deleteRole", "Role not found", rolename=device_role(device_id))

    def is_provisioned(self, device_id: str) -> bool:
        return self._get_client(check_device_id(device_id)) is not None

    # --- platform accounts -------------------------------------------------------

    def ensure_platform_account(self, username: str, password: str) -> None:
        """Make `username` a platform account with this password. Idempotent.

        Only what differs is changed, because every change disconnects the account's
        sessions: re-running it at each start must not cut off a running ingest.
        """
        self.ensure_default_acl_access()
        self._ensure_role(PLATFORM_ROLE, PLATFORM_ACLS)
        client = self._get_client(username)
        if client is None:
            self.execute(
                "createClient",
                username=username,
                password=password,
                roles=[{"rolename": PLATFORM_ROLE}],
                textname="nuanxin platform account",
            )
            return
        roles = {r["rolename"] for r in client.get("roles", [])}
        if any(r.startswith(DEVICE_ROLE_PREFIX) for r in roles):
            raise AccountConflict(f"{username!r} is a device's MQTT account, not a platform one")
        if PLATFORM_ROLE not in roles:
            self.execute("addClientRole", username=username, rolename=PLATFORM_ROLE)
        if client.get("disabled"):
            self.execute("enableClient", username=username)
        # The broker keeps only a hash, so the password is checked by logging in with it.
        if not self._login_works(username, password):
            self.execute("setClientPassword", username=username, password=password)

    def default_acl_access(self) -> dict[str, bool]:
        data = self.execute("getDefaultACLAccess")
        return {acl["acltype"]: bool(acl["allow"]) for acl in data["acls"]}

    def ensure_default_acl_access(self) -> None:
        if self.default_acl_access() != DEFAULT_ACL_ACCESS:
            self.execute(
                "setDefaultACLAccess",
                acls=[{"acltype": t, "allow": a} for t, a in DEFAULT_ACL_ACCESS.items()],
            )

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

    # --- helpers -----------------------------------------------------------------

    def _execute_ignoring(self, command: str, error: str, **fields: Any) -> None:
        try:
            self.execute(command, **fields)
        except BrokerCommandFailed as exc:
            if exc.error != error:
                raise

    def _ensure_role(self, role: str, acls: Iterable[Acl]) -> None:
        wanted = [a.as_json() for a in acls]
        try:
            current = self.execute("getRole", rolename=role)["role"].get("acls", [])
        except BrokerCommandFailed as exc:
            if exc.error != "Role not found":
                raise
            self.execute("createRole", rolename=role, acls=wanted)
            return
        if _acl_set(current) != _acl_set(wanted):
            self.execute("modifyRole", rolename=role, acls=wanted)

    def _get_client(self, username: str) -> dict[str, Any] | None:
        try:
            client: dict[str, Any] = self.execute("getClient", username=username)["client"]
        except BrokerCommandFailed as exc:
            if exc.error == "Client not found":
                return None
            raise
        return client

    def _login_works(self, username: str, password: str) -> bool:
        probe = self._new_client(username, password)
        outcome: list[ReasonCode] = []
        probe.on_connect = lambda _c, _u, _f, reason_code, _p: outcome.append(reason_code)
        try:
            probe.connect(self.host, self.port, keepalive=10)
            deadline = time.monotonic() + self.timeout_s
            while not outcome and time.monotonic() < deadline:
                probe.loop(timeout=0.05)  # this thread drives the probe: no loop thread
        except (OSError, ssl.SSLError) as exc:
            raise BrokerUnavailable(f"cannot reach MQTT broker {self.broker}: {exc}") from exc
        finally:
            probe.disconnect()
        if not outcome:
            raise BrokerUnavailable(f"MQTT broker {self.broker} did not answer a login")
        return not outcome[0].is_failure

    def _new_client(self, username: str, password: str) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"nuanxin-admin-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv5,
        )
        client.username_pw_set(username, password)
        client.connect_timeout = self.timeout_s
        if self._tls_context is not None:
            client.tls_set_context(self._tls_context)
        return client

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
                f"{reason_code.getName()}"
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


def _acl_set(acls: Iterable[dict[str, Any]]) -> set[tuple[str, str, bool, int]]:
    return {
        (a["acltype"], a["topic"], bool(a.get("allow", False)), int(a.get("priority", 0)))
        for a in acls
    }
