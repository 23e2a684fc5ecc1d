"""The whole system for browser tests, as `nuanxin serve` runs it (cli.platform.Platform):
a real Mosquitto with the project's configuration, a migrated throwaway database, ingest,
the alert engine with its scheduler, the API serving the web app on a free port, and the
local Twilio. Seeded with the test world (tests.support.world), a community worker who
has the app, commissioned emergency buttons, and a week of PIR, gas and battery history.

One thing differs from `nuanxin serve`: the clock of the engine and the API is the real
time plus an offset the test moves (`ManualClock.following_real_time()`), so an escalation
deadline minutes away passes in a second while ingest, the broker and the browser keep
real time.
"""

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import monotonic, sleep
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import psycopg

from alerting.engine import utc_now
from cli.platform import Platform
from core.settings import Settings
from core.types import DeviceType
from device_registry import devices
from device_registry.access import system_actor
from device_registry.provisioning import BrokerAdmin
from device_registry.schemas import DeviceRegister
from ingest import writer
from ingest.messages import Reading
from simulators.devices import SimulatedDevice
from simulators.mqtt import Endpoint
from simulators.twilio_server import TwilioServer
from tests.support.api_alerts import Staff, add_staff
from tests.support.broker import BrokerInfo, project_broker
from tests.support.clock import ManualClock
from tests.support.databases import migrated_database
from tests.support.ingest_stack import INGEST_PASSWORD, INGEST_USER
from tests.support.servers import free_port
from tests.support.world import PASSWORD, World, build_world

T = TypeVar("T")
SHANGHAI = ZoneInfo("Asia/Shanghai")
FAMILY_PHONE = "+8613800138000"  # every family contact of the test world
BUTTONS = ("btn-east_a", "btn-east_b")
PIR, GAS = "pir-east_a", "gas-east_a"
ACTIVE_HOURS = range(6, 22)  # local hours the seeded elder moves about
READY_TIMEOUT_S = 30.0


@dataclass
class WebStack:
    url: str  # where the API and the web app answer
    database_url: str
    broker: BrokerInfo
    twilio: TwilioServer
    clock: ManualClock
    world: World
    staff: Staff
    passwords: dict[str, str]  # MQTT passwords of the seeded buttons
    activity: dict[tuple[str, int], int]  # seeded motion reports per (local day, hour)
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.broker.host, self.broker.port)

    def device(
        self, device_id: str, device_type: DeviceType, password: str | None = None
    ) -> SimulatedDevice:
        """A simulated device on its own MQTT account; heartbeats rare enough to ignore."""
        return SimulatedDevice(
            device_id,
            device_type,
            password or self.passwords[device_id],
            self.endpoint,
            interval_s=3600,
        )

    def token(self, username: str) -> str:
        if username not in self._tokens:
            response = httpx.post(
                f"{self.url}/api/v1/auth/token",
                data={"username": username, "password": PASSWORD},
            )
            response.raise_for_status()
            self._tokens[username] = response.json()["access_token"]
        return self._tokens[username]

    def get(self, username: str, path: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(username)}"}
        return httpx.get(f"{self.url}/api/v1{path}", headers=headers, params=params or None)

    def sms_bodies(self, number: str) -> list[str]:
        return [m.form["Body"] for m in self.twilio.messages() if m.form["To"] == number]

    def wait_for(self, found: Callable[[], T | None], what: str, timeout_s: float = 10) -> T:
        """The first truthy answer of `found`, asked every 0.1 s."""
        deadline = monotonic() + timeout_s
        while monotonic() < deadline:
            value = found()
            if value:
                return value
            sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    def scalar(self, sql: str, *params: Any) -> Any:
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute(sql, params).fetchone()
        assert row is not None
        return row[0]


# --- seeding ---------------------------------------------------------------------------


def _register(
    conn: psycopg.Connection[Any],
    admin: BrokerAdmin,
    device_id: str,
    kind: str,
    elder: int,
    **extra: Any,
) -> None:
    data = DeviceRegister.model_validate(
        {"device_id": device_id, "device_type": kind, "elder_id": elder, **extra}
    )
    devices.register_device(conn, system_actor("test-setup"), data, admin)


def _commission(conn: psycopg.Connection[Any], device_ids: list[str], at: datetime) -> None:
    conn.execute(
        "UPDATE devices SET state = 'commissioned', commissioned_at = %s WHERE device_id = ANY(%s)",
        (at, device_ids),
    )


def _week_of_history(now: datetime) -> tuple[list[Reading], dict[tuple[str, int], int]]:
    """Seven local days of an elder who is up from 6 to 22, a gas detector that smells a
    little cooking in the evening, and batteries slowly draining."""
    readings: list[Reading] = []
    activity: dict[tuple[str, int], int] = {}
    seq = itertools.count()
    today = now.astimezone(SHANGHAI).date()

    def add(device_id: str, ts: datetime, **values: Any) -> None:
        if ts < now:
            readings.append(Reading(device_id, ts, f"seed-{next(seq)}", ts, **values))

    for back in range(6, -1, -1):
        day: date = today - timedelta(days=back)
        for hour in range(24):
            start = datetime.combine(day, time(hour), SHANGHAI)
            lel = 4.5 + back * 0.3 if hour in (11, 18) else 0.4 + (hour % 5) * 0.2
            add(GAS, start + timedelta(minutes=1), gas_lel=round(lel, 1), rssi=-58)
            motions = (back + hour) % 4 if hour in ACTIVE_HOURS else 0
            for i in range(motions):
                ts = start + timedelta(minutes=7 + 11 * i)
                add(PIR, ts, motion=True, rssi=-66)
                if ts < now:
                    key = (day.isoformat(), hour)
                    activity[key] = activity.get(key, 0) + 1
            if hour % 6 == 0:
                add(PIR, start + timedelta(minutes=2), battery=97 - (6 - back) * 2, rssi=-67)
                add("btn-east_a", start + timedelta(minutes=3), battery=88 - (6 - back), rssi=-71)
    # heard from a moment ago: online, not "no activity"
    add(PIR, now - timedelta(minutes=1), battery=85, rssi=-66)
    add(GAS, now - timedelta(seconds=30), gas_lel=0.4, rssi=-58)
    return readings, activity


def seed(url: str, admin: BrokerAdmin) -> tuple[World, dict[str, str], dict[tuple[str, int], int]]:
    now = utc_now()
    with psycopg.connect(url) as conn:
        world = build_world(conn, admin)
        east_a = world.elders["east_a"]
        _register(conn, admin, PIR, "pir", east_a, room="客厅", model="HS1MS")
        _register(
            conn,
            admin,
            GAS,
            "gas",
            east_a,
            room="厨房",
            power_source="mains",
            heartbeat_interval_s=1800,
            model="HS1CG",
            zigbee_name="厨房/燃气报警器",  # a Zigbee model: it publishes through its gateway
        )
        _commission(conn, [*BUTTONS, PIR, GAS], now - timedelta(days=8))
    readings, activity = _week_of_history(now)
    with psycopg.connect(url, autocommit=True) as conn:
        writer.prepare(conn)
        writer.write_batch(conn, readings)
    passwords = {device_id: admin.rotate_device_password(device_id) for device_id in BUTTONS}
    return world, passwords, activity


# --- the stack -------------------------------------------------------------------------


@contextmanager
def web_stack(workdir: Path) -> Iterator[WebStack]:
    with migrated_database("nuanxin_web") as url, project_broker(workdir) as broker:
        with BrokerAdmin(
            broker.host, broker.port, broker.admin_username, broker.admin_password
        ) as admin:
            admin.ensure_platform_account(INGEST_USER, INGEST_PASSWORD)
            world, passwords, activity = seed(url, admin)
        with TwilioServer() as twilio:
            port = free_port()
            settings = Settings(
                database_url=url,
                mqtt_url=f"mqtt://{broker.host}:{broker.port}",
                mqtt_username=INGEST_USER,
                mqtt_password=INGEST_PASSWORD,
                mqtt_admin_username=broker.admin_username,
                mqtt_admin_password=broker.admin_password,
                api_port=port,
                public_base_url=f"http://127.0.0.1:{port}",
                twilio_account_sid=twilio.account_sid,
                twilio_auth_token=twilio.auth_token,
                twilio_from_number="+14155550000",
                twilio_api_base_url=twilio.url,
                db_pool_max_size=8,
            )
            clock = ManualClock.following_real_time()
            platform = Platform.build(settings, clock=clock)
            staff = add_staff(platform.pool, world)
            platform.start()
            try:
                base = f"http://127.0.0.1:{port}"
                _wait_ready(base)
                yield WebStack(base, url, broker, twilio, clock, world, staff, passwords, activity)
            finally:
                platform.stop()


def _wait_ready(base: str) -> None:
    deadline = monotonic() + READY_TIMEOUT_S
    last = "no answer"
    while monotonic() < deadline:
        try:
            response = httpx.get(f"{base}/readyz", timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = str(exc)
        sleep(0.1)
    raise RuntimeError(f"the platform did not become ready: {last}")
