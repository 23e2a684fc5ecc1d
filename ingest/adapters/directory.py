"""Who a message belongs to: the seam between adapters and the device registry.

The ingest service implements `DeviceDirectory` with an in-memory cache of the devices
table; `StaticDirectory` is the dict-backed one tests and simulators use.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Protocol

from ingest.messages import DeviceInfo

# The registry stores IEEE addresses in this form (migration 0003 checks it); Zigbee2MQTT
# prints them the same way but people type them in upper case too.
IEEE_ADDRESS = re.compile(r"0x[0-9A-Fa-f]{16}")


class DeviceDirectory(Protocol):
    """Answers from memory, never from the database: it is called once per message."""

    def by_id(self, device_id: str) -> DeviceInfo | None: ...

    def by_zigbee(self, name_or_ieee: str) -> DeviceInfo | None: ...

    def by_platform(self, platform: str, identity: str) -> DeviceInfo | None:
        """A device registered on a carrier platform ("ctwing", "onenet", "iotda") under
        `identity`: its platform device id or its IMEI."""
        ...


def zigbee_key(name_or_ieee: str) -> str:
    """Friendly names are case-sensitive in Zigbee2MQTT; IEEE addresses are not."""
    return name_or_ieee.lower() if IEEE_ADDRESS.fullmatch(name_or_ieee) else name_or_ieee


def platform_key(platform: str, identity: str) -> str:
    return f"{platform}:{identity}"


class StaticDirectory:
    """A fixed set of devices; `zigbee` maps friendly names or IEEE addresses to device
    ids, `platform` maps (platform, platform device id or IMEI) to device ids."""

    def __init__(
        self,
        devices: Iterable[DeviceInfo] = (),
        zigbee: Mapping[str, str] | None = None,
        platform: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        self._by_id = {device.device_id: device for device in devices}
        self._by_zigbee = {zigbee_key(key): self._by_id[did] for key, did in (zigbee or {}).items()}
        self._by_platform = {
            platform_key(*key): self._by_id[did] for key, did in (platform or {}).items()
        }

    def by_id(self, device_id: str) -> DeviceInfo | None:
        return self._by_id.get(device_id)

    def by_zigbee(self, name_or_ieee: str) -> DeviceInfo | None:
        return self._by_zigbee.get(zigbee_key(name_or_ieee))

    def by_platform(self, platform: str, identity: str) -> DeviceInfo | None:
        return self._by_platform.get(platform_key(platform, identity))
