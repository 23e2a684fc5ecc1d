"""Errors of the device registry, each one line a person can act on.

    NuanxinError (core.errors)
    └── RegistryError                  base of everything the registry raises on purpose
        ├── InvalidDeviceId            a device id does not match ^[A-Za-z0-9_-]{3,64}$,
        │                              or starts with the platform's prefix `nuanxin-`
        ├── InvalidAccountName         a platform account name is outside `nuanxin-…`
        ├── DeviceNotProvisioned       rotating credentials of a device that has none
        ├── AccountConflict            a device and a platform account claim one name
        └── BrokerAdminError           the broker's dynamic-security API did not do it
            ├── BrokerUnavailable      no connection to the broker, or it was lost
            ├── BrokerAdminDenied      the broker refused the admin account
            ├── BrokerCommandTimeout   a command got no answer in time
            └── BrokerCommandFailed    the broker answered a command with an error

paho-mqtt errors and reason codes are translated into these in `provisioning.py`;
messages name the broker and the command, never a password.
"""

from core.errors import NuanxinError


class RegistryError(NuanxinError):
    """Base of the registry's deliberate errors."""


class InvalidDeviceId(RegistryError, ValueError):
    """Raised before anything is sent when a device id is not a valid MQTT username."""


class InvalidAccountName(RegistryError, ValueError):
    """Raised before anything is sent when a platform account is not named `nuanxin-…`."""


class DeviceNotProvisioned(RegistryError):
    """Raised when an operation needs a device's broker client and there is none."""

    def __init__(self, device_id: str) -> None:
        super().__init__(f"device {device_id!r} has no MQTT credentials")
        self.device_id = device_id


class AccountConflict(RegistryError):
    """Raised when one broker client name is claimed both by a device and a platform account.

    Neither operation takes over the other's client: a device must not gain the platform's
    ACLs, and the platform's password must not be replaced by a device's.
    """


class BrokerAdminError(RegistryError):
    """Base of failures talking to the broker's dynamic-security plugin."""


class BrokerUnavailable(BrokerAdminError):
    """Raised when the broker cannot be reached or the connection drops mid-command."""


class BrokerAdminDenied(BrokerAdminError):
    """Raised when the broker rejects the admin login or its access to $CONTROL topics."""


class BrokerCommandTimeout(BrokerAdminError):
    """Raised when a dynamic-security command is not answered within the timeout."""

    def __init__(self, command: str, timeout_s: float) -> None:
        super().__init__(
            f"dynamic-security command {command!r} got no answer within {timeout_s:g} s"
        )
        self.command = command


class BrokerCommandFailed(BrokerAdminError):
    """Raised when the broker answers a command with an error, e.g. "Client not found"."""

    def __init__(self, command: str, error: str, subject: str | None = None) -> None:
        about = f" for {subject!r}" if subject else ""
        super().__init__(f"dynamic-security command {command!r}{about} failed: {error}")
        self.command = command
        self.error = error
        self.subject = subject
