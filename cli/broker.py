"""`nuanxin broker sync`: the broker's accounts in line with the registry."""

import argparse
import time
from typing import Any

from core import db
from core.errors import ConfigError
from core.settings import Settings, load_settings
from device_registry.broker_sync import active_device_ids, sync_accounts
from device_registry.errors import BrokerUnavailable
from device_registry.provisioning import BrokerAdmin

NAME = "broker"


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Any]]:
    parser = subparsers.add_parser(NAME, help="keep the MQTT broker's accounts in line")
    actions = parser.add_subparsers(dest="action", required=True)
    sync = actions.add_parser(
        "sync",
        help="create the platform accounts and bind every account to its own client id",
        description=(
            "Idempotent; run it at upgrade and at every start. Creates or updates the "
            "platform accounts (NUANXIN_MQTT_PLATFORM_USERNAMES, else NUANXIN_MQTT_USERNAME; "
            "password NUANXIN_MQTT_PASSWORD), then binds every account of the broker, "
            "devices' included, to its own username as MQTT client id, so a device's "
            "credentials can no longer log in as another client (ingest's above all). "
            "Changes only what differs: each change disconnects that account once. Needs "
            "NUANXIN_MQTT_ADMIN_USERNAME/PASSWORD and the database. Prints what it changed; "
            "exits 1 if any account could not be synced."
        ),
    )
    sync.add_argument(
        "--wait-s",
        type=float,
        default=0.0,
        help="keep trying to reach the broker this long (a broker starting beside it)",
    )
    return [(NAME, run)]


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.mqtt_admin_password is None:
        raise ConfigError("broker sync needs NUANXIN_MQTT_ADMIN_PASSWORD (the dynsec admin)")
    with db.connect(str(settings.database_url)) as conn:
        device_ids = active_device_ids(conn)
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    admin = _connected(settings, settings.mqtt_admin_password.get_secret_value(), args.wait_s)
    try:
        report = sync_accounts(
            admin,
            device_ids=device_ids,
            platform_usernames=settings.platform_usernames,
            platform_password=password,
            admin_username=settings.mqtt_admin_username,
        )
    finally:
        admin.close()
    for line in report.lines():
        print(line)
    return 1 if report.failed else 0


def _connected(settings: Settings, admin_password: str, wait_s: float) -> BrokerAdmin:
    deadline = time.monotonic() + wait_s
    while True:
        admin = BrokerAdmin.from_url(
            str(settings.mqtt_url),
            settings.mqtt_admin_username,
            admin_password,
            ca_file=settings.mqtt_ca_file,
        )
        try:
            admin.connect()
            return admin
        except BrokerUnavailable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1)
