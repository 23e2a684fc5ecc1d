"""Who may hold which MQTT client id: the one rule for device ids and platform names.

The broker binds every account to exactly one client id, the account's own username
(dynamic security's `clientid`), so a session belongs to one account. Usernames are
unique in the broker, hence so are client ids; the reserved prefix keeps the two
namespaces apart as well, so a device can never be registered under a name the platform
will need later (a second ingest process added next year, say).
"""

import re
from typing import Final

# Every platform account (ingest processes, the load generator, the demo) and the
# admin connections' client ids start with this; no device id may.
PLATFORM_PREFIX: Final = "nuanxin-"

DEVICE_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{3,64}$"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
# A platform account name is a device-shaped id under the reserved prefix.
_PLATFORM_NAME = re.compile(rf"^{re.escape(PLATFORM_PREFIX)}[A-Za-z0-9_-]{{1,56}}$")


def device_id_problem(device_id: str) -> str | None:
    """What is wrong with this device id, in words a person can act on; None if nothing."""
    if not _DEVICE_ID.fullmatch(device_id):
        return f"invalid device id {device_id!r}: must match {DEVICE_ID_PATTERN}"
    if device_id.lower().startswith(PLATFORM_PREFIX):
        return (
            f"invalid device id {device_id!r}: ids starting with {PLATFORM_PREFIX!r} are "
            "reserved for the platform's own MQTT accounts"
        )
    return None


def platform_name_problem(username: str) -> str | None:
    """What is wrong with this platform account name; None if nothing."""
    if not _PLATFORM_NAME.fullmatch(username):
        return (
            f"invalid platform MQTT account {username!r}: must start with {PLATFORM_PREFIX!r} "
            "and continue with 1-56 of A-Z a-z 0-9 _ -, as it is also the client id"
        )
    return None
