"""The device directory ingest decodes against: every active device, in memory.

Adapters ask it once per message, so it must answer from memory. It is loaded from the
devices table at start and refreshed on a timer (decommissioned devices drop out); a
device registered since is looked up on its first message, with a short negative cache so
a flood from an unknown id costs one query per interval, not one per message.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from core.types import DeviceType
from ingest.adapters.directory import zigbee_key
from ingest.messages import DeviceInfo

ACTIVE_DEVICES_SQL = """
SELECT device_id, device_type, zigbee_name, zigbee_ieee FROM devices
WHERE state <> 'decommissioned'
"""
NEGATIVE_TTL_S = 10.0

Connect = Callable[[], psycopg.Connection[Any]]


class DatabaseDirectory:
    def __init__(self, conn: Connect) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._by_id: dict[str, DeviceInfo] = {}
        self._by_zigbee: dict[str, DeviceInfo] = {}
        self._misses: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def refresh(self) -> None:
        rows = self._conn().execute(ACTIVE_DEVICES_SQL).fetchall()
        by_id: dict[str, DeviceInfo] = {}
        by_zigbee: dict[str, DeviceInfo] = {}
        for device_id, device_type, name, ieee in rows:
            info = DeviceInfo(device_id, DeviceType(device_type))
            by_id[device_id] = info
            for key in (name, ieee):
                if key:
                    by_zigbee[zigbee_key(key)] = info
        with self._lock:
            self._by_id, self._by_zigbee, self._misses = by_id, by_zigbee, {}

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
                "SELECT device_id, device_type, zigbee_name, zigbee_ieee FROM devices"
                f" WHERE state <> 'decommissioned' AND {condition}",
                params,
            )
            .fetchone()
        )
        if row is None:
            return None
        info = DeviceInfo(row[0], DeviceType(row[1]))
        with self._lock:
            self._by_id[info.device_id] = info
            for key in (row[2], row[3]):
                if key:
                    self._by_zigbee[zigbee_key(key)] = info
            self._misses.pop(cache_key, None)
        return info
