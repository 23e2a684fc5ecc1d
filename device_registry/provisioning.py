"""MQTT credentials, ACLs and client-id bindings, managed through Mosquitto's
dynamic-security plugin (the connection and command seam: broker_connection.py).

What the broker holds, and why:

- one client per device, named by the device id (the device's MQTT username), with a
  random password that is returned once and never stored by us (the broker keeps only
  a salted hash);
- one role per device, `device:{device_id}`, from DEVICE_ACLS: it may publish under
  `nuanxin/v1/{device_id}/` except its own `cmd`, and subscribe to and receive only its
  own `cmd`;
- one client per platform process (each ingest process, the load generator, the demo),
  named under the reserved prefix `nuanxin-` (core/identity.py), sharing the `platform`
  role from PLATFORM_ACLS;
- every client created here bound to one client id, its own username
  (`createClient … clientid`): a device's credentials log in only as that device, and
  no account but the platform's own can hold, and so take over or throw away, ingest's
  session. A login with any other client id is refused at CONNECT ("Not authorized").
  `create_bound_client` is the only way this package creates a client;
- the broker-wide default ACL access of DEFAULT_ACL_ACCESS, which the device roles rely
  on: whatever a role does not allow, a device may neither publish nor subscribe.

Mosquitto 2.0 disconnects every session of a client whose password, client id, roles or
role ACLs change (even to the same value), and a deleted client's sessions too; the
operations below rely on that to cut revoked devices off, and change only what differs
so re-running setup does not disconnect a running ingest.
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.identity import DEVICE_ID_PATTERN, device_id_problem, platform_name_problem
from device_registry.broker_connection import BrokerConnection
from device_registry.errors import (
    AccountConflict,
    BrokerCommandFailed,
    DeviceNotProvisioned,
    InvalidAccountName,
    InvalidDeviceId,
)

DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
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
    """A device id that may get a new account: the MQTT-safe pattern, not reserved."""
    problem = device_id_problem(device_id)
    if problem is not None:
        raise InvalidDeviceId(problem)
    return device_id


def check_existing_device_id(device_id: str) -> str:
    """The pattern only: an account from before the prefix was reserved can still be
    rotated and revoked."""
    if not DEVICE_ID.fullmatch(device_id):
        raise InvalidDeviceId(f"invalid device id {device_id!r}: must match {DEVICE_ID_PATTERN}")
    return device_id


# The broker keeps only its own hash of a password, and a login cannot test one without
# taking the bound client id (and so the running session). The platform accounts carry a
# verifier in their `textdescription` instead, so setup can tell whether the password
# changed without disconnecting anyone.
_VERIFIER_SCHEME, _VERIFIER_ROUNDS = "pbkdf2-sha256", 100_000


def password_verifier(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _VERIFIER_ROUNDS)
    return f"{_VERIFIER_SCHEME}${_VERIFIER_ROUNDS}${salt.hex()}${digest.hex()}"


def verifier_matches(verifier: str | None, password: str) -> bool:
    scheme, _, rest = (verifier or "").partition("$")
    rounds, _, salt_and_digest = rest.partition("$")
    salt, _, _digest = salt_and_digest.partition("$")
    if scheme != _VERIFIER_SCHEME or rounds != str(_VERIFIER_ROUNDS):
        return False
    try:
        expected = password_verifier(password, bytes.fromhex(salt))
    except ValueError:
        return False
    return hmac.compare_digest(expected, verifier or "")


class BrokerAdmin(BrokerConnection):
    """The accounts of devices and of the platform on one broker; a context manager."""

    # --- devices -----------------------------------------------------------------

    def provision_device(self, device_id: str) -> str:
        """Give the device its own client, role and client id; return its new password
        (shown once).

        Provisioning an existing device client resets it (new password, today's ACLs, its
        client id) and disconnects its sessions. That heals the orphan a registration
        leaves when its database transaction rolls back after the broker said yes; the
        registry calls this only after inserting the device row, whose unique key keeps a
        live device from being provisioned twice. A client that is not a device's (a
        platform account of the same name) is never touched: AccountConflict.
        """
        role = device_role(check_device_id(device_id))
        password = secrets.token_urlsafe(24)
        client = self.get_client(device_id)
        if client is not None:
            others = {r["rolename"] for r in client.get("roles", [])} - {role}
            if others or client.get("groups"):
                raise AccountConflict(
                    f"MQTT account {device_id!r} exists and is not a device's "
                    f"(roles {sorted(others)}); refusing to reuse it"
                )
        self._ensure_role(role, device_acls(device_id))
        if client is None:
            self.create_bound_client(device_id, password, [role], f"nuanxin device {device_id}")
            return password
        if client.get("disabled"):
            self.execute("enableClient", username=device_id)
        self.execute(
            "modifyClient",
            username=device_id,
            password=password,
            clientid=device_id,
            roles=[{"rolename": role}],
        )
        return password

    def rotate_device_password(self, device_id: str) -> str:
        """Give the device a new password; the broker disconnects sessions using the old."""
        password = secrets.token_urlsafe(24)
        try:
            self.execute(
                "setClientPassword",
                username=check_existing_device_id(device_id),
                password=password,
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
        check_existing_device_id(device_id)
        self._execute_ignoring("deleteClient", "Client not found", username=device_id)
        self._execute_ignoring("deleteRole", "Role not found", rolename=device_role(device_id))

    def is_provisioned(self, device_id: str) -> bool:
        return self.get_client(check_existing_device_id(device_id)) is not None

    # --- client ids ----------------------------------------------------------------

    def create_bound_client(
        self, username: str, password: str, roles: Iterable[str], textname: str, **fields: Any
    ) -> None:
        """Create a client that may log in only with its own username as client id."""
        self.execute(
            "createClient",
            username=username,
            password=password,
            clientid=username,
            roles=[{"rolename": role} for role in roles],
            textname=textname,
            **fields,
        )

    def bind_client_id(self, username: str) -> bool | None:
        """Bind an existing client to its username as client id; True if that changed it,
        False if it already was, None if there is no such client. Binding disconnects
        the client's sessions, so an already bound client is left alone."""
        client = self.get_client(username)
        if client is None:
            return None
        if client.get("clientid") == username:
            return False
        self.execute("setClientId", username=username, clientid=username)
        return True

    def list_clients(self) -> list[dict[str, Any]]:
        """Every client of the broker, with its `clientid` when it has one."""
        clients: list[dict[str, Any]] = self.execute("listClients", verbose=True)["clients"]
        return clients

    # --- platform accounts -------------------------------------------------------

    def ensure_platform_account(self, username: str, password: str) -> None:
        """Make `username` a platform account with this password, bound to `username` as
        its client id. Idempotent.

        Only what differs is changed, in one command, because every change disconnects
        the account's sessions: re-running it at each start must not cut off a running
        ingest. An account from before the binding is bound here (one disconnect).
        """
        problem = platform_name_problem(username)
        if problem is not None:
            raise InvalidAccountName(problem)
        self.ensure_default_acl_access()
        self._ensure_role(PLATFORM_ROLE, PLATFORM_ACLS)
        client = self.get_client(username)
        if client is None:
            self.create_bound_client(
                username,
                password,
                [PLATFORM_ROLE],
                "nuanxin platform account",
                textdescription=password_verifier(password),
            )
            return
        roles = {r["rolename"] for r in client.get("roles", [])}
        if any(r.startswith(DEVICE_ROLE_PREFIX) for r in roles):
            raise AccountConflict(f"{username!r} is a device's MQTT account, not a platform one")
        if PLATFORM_ROLE not in roles:
            self.execute("addClientRole", username=username, rolename=PLATFORM_ROLE)
        if client.get("disabled"):
            self.execute("enableClient", username=username)
        changes: dict[str, str] = {}
        if client.get("clientid") != username:
            changes["clientid"] = username
        if not verifier_matches(client.get("textdescription"), password):
            changes |= {"password": password, "textdescription": password_verifier(password)}
        if changes:
            self.execute("modifyClient", username=username, **changes)

    def default_acl_access(self) -> dict[str, bool]:
        data = self.execute("getDefaultACLAccess")
        return {acl["acltype"]: bool(acl["allow"]) for acl in data["acls"]}

    def ensure_default_acl_access(self) -> None:
        if self.default_acl_access() != DEFAULT_ACL_ACCESS:
            self.execute(
                "setDefaultACLAccess",
                acls=[{"acltype": t, "allow": a} for t, a in DEFAULT_ACL_ACCESS.items()],
            )

    # --- helpers -----------------------------------------------------------------

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


def _acl_set(acls: Iterable[dict[str, Any]]) -> set[tuple[str, str, bool, int]]:
    return {
        (a["acltype"], a["topic"], bool(a.get("allow", False)), int(a.get("priority", 0)))
        for a in acls
    }
