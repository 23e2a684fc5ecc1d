"""`nuanxin simulate --homes N`: simulated homes publishing to the configured broker, for
load and for trying the system out. Homes `sim-0000` … are registered (and commissioned)
on first use; their devices publish through the load account given."""

import argparse
from typing import Any

import psycopg

from cli.signals import wait_for_stop
from core.logging import configure_logging
from core.masking import REDACTOR
from core.settings import load_settings
from core.types import DeviceType
from simulators.fleet import Fleet, Home
from simulators.mqtt import Endpoint

NAME = "simulate"


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Any]]:
    parser = subparsers.add_parser(
        NAME,
        help="run N simulated homes against the configured broker and database",
        description=(
            "Register homes sim-0000 … (if missing) with a button, smoke and gas detectors and "
            "a PIR each, then publish heartbeats and routine motion through an MQTT account "
            "that may publish any device's telemetry (--username/--password). Ctrl-C stops."
        ),
    )
    parser.add_argument("--homes", type=int, default=100)
    parser.add_argument("--username", required=True, help="MQTT account allowed to publish")
    parser.add_argument("--password", required=True)
    parser.add_argument("--heartbeat-s", type=float, default=60.0)
    parser.add_argument("--speed", type=float, default=1.0, help="routine hours per hour")
    parser.add_argument("--duration", type=float, default=None, help="seconds, then stop")
    return [(NAME, run)]


def _register_homes(database_url: str, count: int) -> list[Home]:
    homes = [
        Home(
            f"sim-{i:04d}-pir",
            tuple(
                f"sim-{i:04d}-{k.value}"
                for k in (DeviceType.EMERGENCY_BUTTON, DeviceType.SMOKE, DeviceType.GAS)
            ),
        )
        for i in range(count)
    ]
    with psycopg.connect(database_url) as conn:
        for home in homes:
            rows = [(home.pir, "pir"), *((d, d.split("-", 2)[2]) for d in home.others)]
            for device_id, kind in rows:
                conn.execute(
                    "INSERT INTO devices (device_id, device_type, state) VALUES (%s, %s,"
                    " 'commissioned') ON CONFLICT (device_id) DO NOTHING",
                    (device_id, kind.replace("-", "_")),
                )
    return homes


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    REDACTOR.add_secrets([args.password])  # a secret from the command line, not settings
    homes = _register_homes(str(settings.database_url), args.homes)
    endpoint = Endpoint(settings.mqtt_url.host or "127.0.0.1", settings.mqtt_url.port or 1883)
    fleet = Fleet(
        endpoint,
        args.username,
        args.password,
        homes,
        heartbeat_s=args.heartbeat_s,
        speed=args.speed,
    )
    fleet.start()
    print(f"{len(homes)} homes ({4 * len(homes)} devices) publishing; Ctrl-C stops", flush=True)
    wait_for_stop(args.duration)
    fleet.stop()
    print(f"published {fleet.published} messages", flush=True)
    return 0
