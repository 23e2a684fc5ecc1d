"""`nuanxin demo`: the whole system with simulated homes, on whatever servers are at hand.

It finds or starts PostgreSQL and Mosquitto (cli.demo_servers), migrates, seeds a small
district (simulators.demo_world), runs ingest, the alert engine and the API in this
process, starts a local Twilio-compatible server whose messages are printed as a phone
would show them, brings the homes to life, and plays a scripted story
(simulators.scenarios). Ctrl-C stops everything it started.
"""

import argparse
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from alerting.notifiers.callbacks import CallbackPath
from cli.demo_servers import DEFAULT_DATA_DIR, OpenBroker, Servers, resolve
from cli.demo_watch import AlertPrinter, PhonePrinter, Tally
from cli.platform import Platform
from core.logging import configure_logging
from core.settings import Settings, load_settings
from core.types import DeviceType
from device_registry.passwords import DEMO_PASSWORD
from embedded.account import ACCOUNT_NAME, ROOT_DATA_HOME
from migrations import PACKAGED_DIR
from migrations.runner import discover, migrate
from simulators import demo_world
from simulators.devices import SimulatedDevice
from simulators.households import Household, SimulatedDay
from simulators.mqtt import Endpoint
from simulators.scenarios import ACTIONS, STORY, Stage
from simulators.twilio_server import TwilioServer

NAME = "demo"


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Any]]:
    parser = subparsers.add_parser(
        NAME,
        help="the whole system with simulated homes and a scripted story (needs no setup)",
        description=(
            "Run ingest, the alert engine and the API with four simulated homes in 东胜区 and "
            "a story: an emergency call, a gas leak, smoke that clears, an elder who stops "
            "moving, a device that loses power. Uses NUANXIN_DATABASE_URL/NUANXIN_MQTT_URL "
            "if set, else PostgreSQL and Mosquitto on localhost's standard ports, else starts "
            "its own. SMS and calls go to a local Twilio test server and are printed here."
        ),
    )
    parser.add_argument(
        "--local-postgres",
        default="127.0.0.1:5432",
        metavar="HOST:PORT",
        help="where to look for a local PostgreSQL (default %(default)s)",
    )
    parser.add_argument(
        "--local-mqtt",
        default="127.0.0.1:1883",
        metavar="HOST:PORT",
        help="where to look for a local Mosquitto (default %(default)s)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=(
            "where embedded servers keep their data (default here %(default)s). As root "
            f"the servers run as the account {ACCOUNT_NAME}, which must be able to reach "
            f"it: the default is then {ROOT_DATA_HOME / 'demo'}, and a directory inside a "
            "private one is refused, never opened. README lists what the demo creates."
        ),
    )
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop by itself after this many seconds (default: until Ctrl-C)",
    )
    return [(NAME, run)]


def run(args: argparse.Namespace) -> int:
    configured = load_settings()
    configure_logging("WARNING", configured.log_format)
    env_names = {k for k in os.environ if k.startswith("NUANXIN_")}
    print("暖心智慧守护 demo — finding servers …", flush=True)
    servers = resolve(configured, env_names, args.local_postgres, args.local_mqtt, args.data_dir)
    twilio = TwilioServer().start()
    try:
        for note in servers.notes:
            print(f"  {note}")
        return _run_demo(args, servers, twilio)
    finally:
        twilio.stop()
        servers.stop()
        print("demo stopped; every server it started is stopped.", flush=True)


def _settings(args: argparse.Namespace, servers: Servers, twilio: TwilioServer) -> Settings:
    values: dict[str, Any] = {
        "database_url": servers.database_url,
        "mqtt_url": f"mqtt://{servers.mqtt_host}:{servers.mqtt_port}",
        # Also the client id: its own per run on a shared anonymous broker.
        "mqtt_username": servers.mqtt_username or f"nuanxin-demo-{os.getpid()}",
        "mqtt_password": servers.mqtt_password,
        "api_port": args.api_port,
        "public_base_url": f"http://127.0.0.1:{args.api_port}",
        "twilio_account_sid": twilio.account_sid,
        "twilio_auth_token": twilio.auth_token,
        "twilio_from_number": "+14155550000",
        "twilio_api_base_url": twilio.url,
    }
    if servers.admin is not None:
        values["mqtt_admin_username"], values["mqtt_admin_password"] = servers.admin
    return Settings(**values)


def _run_demo(args: argparse.Namespace, servers: Servers, twilio: TwilioServer) -> int:
    settings = _settings(args, servers, twilio)
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        migrate(conn, discover(PACKAGED_DIR))
    provisioner = None if servers.admin else OpenBroker()
    platform = Platform.build(settings, provisioner=provisioner, timer_interval_s=10)
    with psycopg.connect(servers.database_url) as conn:
        world = demo_world.build(conn, platform.provisioner)
    tally = Tally()
    watchers: list[AlertPrinter | PhonePrinter] = [
        AlertPrinter(servers.database_url, tally),
        PhonePrinter(twilio, world, tally),
    ]
    platform.start()
    homes = Homes(settings, world)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        for watcher in watchers:
            watcher.start()
        homes.start()
        _welcome(settings, world)
        _play(settings, twilio, world, homes, stopping)
        stopping.wait(None if args.duration is None else max(0.0, args.duration - homes.age()))
    finally:
        homes.stop()
        for watcher in watchers:
            watcher.stop()
        platform.stop()
        print(tally.summary(), flush=True)
    return 0


class Homes:
    """Every simulated device of the demo, and the household routine of each PIR."""

    def __init__(self, settings: Settings, world: demo_world.DemoWorld) -> None:
        endpoint = Endpoint(settings.mqtt_url.host or "127.0.0.1", settings.mqtt_url.port or 1883)
        self.devices = {
            elder: {
                kind: SimulatedDevice(
                    device_id, kind, password, endpoint, interval_s=demo_world.DEMO_HEARTBEAT_S
                )
                for kind, (device_id, password) in installed.items()
            }
            for elder, installed in world.devices.items()
        }
        day = SimulatedDay(start_hour=8, speed=60)  # an hour of routine every minute
        self.households = {
            elder: Household(devices[DeviceType.PIR], day, tick_s=3, speed=day.speed, seed=index)
            for index, (elder, devices) in enumerate(self.devices.items())
        }
        self._started = time.monotonic()

    def start(self) -> None:
        self._started = time.monotonic()
        for devices in self.devices.values():
            for device in devices.values():
                device.start()
        for household in self.households.values():
            household.start()

    def age(self) -> float:
        return time.monotonic() - self._started

    def stop(self) -> None:
        for household in self.households.values():
            household.stop()
        for devices in self.devices.values():
            for device in devices.values():
                try:
                    device.stop()
                except Exception:  # one that lost power has nothing to stop
                    continue


def _welcome(settings: Settings, world: demo_world.DemoWorld) -> None:
    base = settings.public_base_url
    print(
        f"\n  API docs:  {base}/docs\n  staff app: {base}/app/\n"
        f"  sign in as {', '.join(world.usernames.values())} — password "
        f"{DEMO_PASSWORD}\n  Ctrl-C stops everything.\n",
        flush=True,
    )


def _play(
    settings: Settings,
    twilio: TwilioServer,
    world: demo_world.DemoWorld,
    homes: Homes,
    stopping: threading.Event,
) -> None:
    base = settings.public_base_url
    token = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"username": "liu", "password": DEMO_PASSWORD},
        timeout=10,
    ).json()["access_token"]
    stage = Stage(
        devices=homes.devices,
        households=homes.households,
        api=httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10),
        twilio=twilio,
        inbound_sms_url=base + CallbackPath.TWILIO_SMS_INBOUND.value,
        family_phones={key: phone for key, *_, phone in demo_world.ELDERS},
        elder_ids=world.elders,
    )

    def play() -> None:
        for beat in STORY:
            if stopping.wait(max(0.0, beat.at_s - homes.age())):
                return
            print(f"[{homes.age():5.0f}s] ▶ {beat.says}", flush=True)
            try:
                ACTIONS[beat.action](stage, beat.elder)
            except Exception as exc:  # the story goes on; say what did not work
                print(f"         ({beat.action} did not work: {exc})", flush=True)

    threading.Thread(target=play, name="story", daemon=True).start()
