"""The device directory ingest decodes against: every active device, in memory.

Adapters ask it once per message, so it must answer from memory. It is loaded from the
devices table at start and refreshed on a timer (decommissioned devices drop out); a
device registered since is looked up on its first message, with a short negative cache so
a flood from an unknown id costs one query per interval, not one per message.

Each device carries its catalogue model (core.catalog) so adapters decode model-aware.
"""

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from core import catalog
from core.types import DeviceType
from ingest.adapters.directory import platform_key, zigbee_key
from ingest.messages import DeviceInfo

COLUMNS = (
    "device_id, device_type, model, zigbee_name, zigbee_ieee, platform, platform_device_id, imei"
)
ACTIVE_DEVICES_SQL = f"SELECT {COLUMNS} FROM devices WHERE state <> 'decommissioned'"
NEGATIVE_TTL_S = 10.0

Connect = Callable[[], psycopg.Connection[Any]]


def _info(row: Sequence[Any]) -> DeviceInfo:
    model = catalog.lookup(row[2])
    return DeviceInfo(row[0], DeviceType(row[1]), model.key if model else None)


def _aliases(row: Sequence[Any]) -> tuple[list[str], list[str]]:
    """The row's Zigbee keys and platform keys."""
    zigbee = [zigbee_key(key) for key in (row[3], row[4]) if key]
    platform = [platform_key(row[5], key) for key in (row[6], row[7]) if row[5] and key]
    return zigbee, platform


class DatabaseDirectory:
    def __init__(self, conn: Connect) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._by_id: dict[str, DeviceInfo] = {}
        self._by_zigbee: dict[str, DeviceInfo] = {}
        self._by_platform: dict[str, DeviceInfo] = {}
        self._misses: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def refresh(self) -> None:
        rows = self._conn().execute(ACTIVE_DEVICES_SQL).fetchall()
        by_id: dict[str, DeviceInfo] = {}
        by_zigbee: dict[str, DeviceInfo] = {}
        by_platform: dict[str, DeviceInfo] = {}
        for row in rows:
            info = by_id[row[0]] = _info(row)
            zigbee, platform = _aliases(row)
            by_zigbee.update(dict.fromkeys(zigbee, info))
            by_platform.update(dict.fromkeys(platform, info))
        with self._lock:
            self._by_id, self._by_zigbee, self._misses = by_id, by_zigbee, {}
            self._by_platform = by_platform

    def by_id(self, device_id: str) -> DeviceInfo | None:
        found = self._by_id.get(device_id)
        if found is None and self._may_look_up(device_id):
            found = self._look_up("device_id = %s", device_id, device_id)
        return found

    def by_zigbee(self, name_or_ieee: str) -> DeviceInfo | None:
        key = zigbee_key(name_or_ieee)
        found = self._by_zigbee.get(key)
        if found is None and self._may_look_up(f"z:{key}"):
            found = self._look_up("(zigbee_name = %s OR zigbee_ieee = lower(%s))", key, key, key)
        return found

    def by_platform(self, platform: str, identity: str) -> DeviceInfo | None:
        key = platform_key(platform, identity)
        found = self._by_platform.get(key)
        if found is None and self._may_look_up(f"p:{key}"):
            condition = "platform = %s AND (platform_device_id = %s OR imei = %s)"
            found = self._look_up(condition, f"p:{key}", platform, identity, identity)
        return found

    def _may_look_up(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._misses.get(key, -NEGATIVE_TTL_S) < NEGATIVE_TTL_S:
                return False
            self._misses[key] = now
            return True

    def _look_up(self, condition: str, cache_key: str, *params: str) -> DeviceInfo | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {COLUMNS} FROM devices WHERE state <> 'decommissioned' AND {condition}",
                params,
            )
            .fetchone()
        )
        if row is None:
            return None
        info = _info(row)
        zigbee, platform = _aliases(row)
        with self._lock:
            self._by_id[info.device_id] = info
            self._by_zigbee.update(dict.fromkeys(zigbee, info))
            self._by_platform.update(dict.fromkeys(platform, info))
            self._misses.pop(cache_key, None)
        return info
