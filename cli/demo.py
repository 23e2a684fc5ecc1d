"""`nuanxin demo`: the whole system with simulated homes, on whatever servers are at hand.

It finds or starts PostgreSQL and Mosquitto (cli.demo_servers), migrates, seeds a small
district (simulators.demo_world), runs ingest, the alert engine and the API in this
process, starts a local Twilio-compatible server whose messages are printed as a phone
would show them, brings the homes to life, and plays a scripted story
(simulators.scenarios). Ctrl-C stops everything it started.

It is safe to run twice and anywhere: its API port is checked before anything else
happens; it takes only a database it made itself, or an empty one, and holds it while it
runs (cli.demo_database); it claims a broker it did not start (cli.demo_claim); every
MQTT client it runs keeps no session on the broker once it disconnects.
"""

import argparse
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from alerting.notifiers.callbacks import CallbackPath
from cli.demo_database import DemoError
from cli.demo_servers import DEFAULT_DATA_DIR, DEMO_DATABASE, OpenBroker, Servers, Wanted, resolve
from cli.demo_watch import Console, Narrator, Tally
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
API_HOST = "127.0.0.1"  # the demo's API answers on this machine only


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
            "private one is refused, never opened. docs/demo.md lists what the demo creates."
        ),
    )
    parser.add_argument(
        "--database",
        default=DEMO_DATABASE,
        help=(
            "the demo's database on the local or embedded PostgreSQL (default %(default)s): "
            "made by the demo and remade at every run; an existing database is used only if "
            "a demo made it or it is empty"
        ),
    )
    parser.add_argument(
        "--api-port", type=int, default=8000, help="port of the API (default %(default)s)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop by itself after this many seconds (default: until Ctrl-C)",
    )
    return [(NAME, run)]


# The story is over when the last of its alerts has opened: they come from timers (no
# motion, no heartbeat) after its last beat. Past the deadline it is over regardless.
LAST_ALERTS = ("inactivity", "device_offline")
STORY_DEADLINE_S = 240.0


def run(args: argparse.Namespace) -> int:
    configured = load_settings()
    configure_logging("WARNING", configured.log_format)
    check_port_free(API_HOST, args.api_port, "--api-port")  # before anything else
    env_names = {k for k in os.environ if k.startswith("NUANXIN_")}
    print("暖心智慧守护 demo — finding servers …", flush=True)
    wanted = Wanted(
        args.local_postgres,
        args.local_mqtt,
        args.data_dir,
        database=args.database,
        api=f"http://{API_HOST}:{args.api_port}",
    )
    servers = resolve(configured, env_names, wanted)
    twilio = TwilioServer().start()
    try:
        for note in servers.notes:
            print(f"  {note}")
        return _run_demo(args, servers, twilio)
    finally:
        twilio.stop()
        servers.stop()
        print("demo stopped; every server it started is stopped.", flush=True)


def check_port_free(host: str, port: int, option: str) -> None:
    """Refuse, in one line naming the port and the option, a port something listens on."""
    with socket.socket() as sock:
        # As the API's server does: a port whose last connections linger is still free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise DemoError(
                f"port {port} on {host} is in use ({exc.strerror or exc}), perhaps by another "
                f"demo: pass {option} with a free port"
            ) from None


def _settings(args: argparse.Namespace, servers: Servers, twilio: TwilioServer) -> Settings:
    values: dict[str, Any] = {
        "database_url": servers.database_url,
        "mqtt_url": f"mqtt://{servers.mqtt_host}:{servers.mqtt_port}",
        # Also the client id: its own per run on a shared anonymous broker.
        "mqtt_username": servers.mqtt_username or f"nuanxin-demo-{os.getpid()}",
        "mqtt_password": servers.mqtt_password,
        "api_host": API_HOST,
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
    # A demo's ingest keeps no session: nothing of it may stay on a broker after it exits.
    platform = Platform.build(
        settings, provisioner=provisioner, timer_interval_s=10, ingest_session_expiry_s=0
    )
    with psycopg.connect(servers.database_url) as conn:
        world = demo_world.build(conn, platform.provisioner)
    tally, console = Tally(), Console()
    narrator = Narrator(servers.database_url, twilio, world, tally, console)
    platform.start()
    homes = Homes(settings, world)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        homes.start()
        console.start_clock()
        narrator.start()
        _welcome(settings, world)
        _play(settings, twilio, world, homes, console, tally, stopping)
        stopping.wait(None if args.duration is None else max(0.0, args.duration - homes.age()))
    finally:
        homes.stop()
        narrator.stop()
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
        f"{DEMO_PASSWORD}\n  Ctrl-C stops everything.\n\n"
        "  The story begins; times are seconds since it began.\n",
        flush=True,
    )


def _play(
    settings: Settings,
    twilio: TwilioServer,
    world: demo_world.DemoWorld,
    homes: Homes,
    console: Console,
    tally: Tally,
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
            if stopping.wait(max(0.0, beat.at_s - console.age())):
                return
            console.say(f"▶ {beat.says}")
            try:
                ACTIONS[beat.action](stage, beat.elder)
            except Exception as exc:  # the story goes on; say what did not work
                console.say(f"  ({beat.action} did not work: {exc})")
        while not all(tally.total("opened", rule) for rule in LAST_ALERTS):
            if stopping.wait(1.0) or console.age() > STORY_DEADLINE_S:
                break
        if not stopping.is_set():
            console.say(
                "■ 故事结束 — the story is over. The homes live on and the API stays open; "
                "Ctrl-C stops everything."
            )

    threading.Thread(target=play, name="story", daemon=True).start()
