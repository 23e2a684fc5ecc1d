"""Start-up checks with answers a person can act on: is the database there and migrated,
does the broker answer. Each failure names what is wrong and how to fix it."""

import socket
from typing import Any

import prometheus_client
import psycopg

from core.errors import NuanxinError
from core.settings import Settings
from migrations import PACKAGED_DIR
from migrations.runner import discover


class StartupError(NuanxinError):
    """Raised before anything starts when a dependency is missing or not ready."""


def check_migrated(conn: psycopg.Connection[Any]) -> None:
    expected = {m.version: m.name for m in discover(PACKAGED_DIR)}
    try:
        rows = conn.execute("SELECT version FROM schema_migrations").fetchall()
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        rows = []
    missing = [name for version, name in sorted(expected.items()) if (version,) not in rows]
    if missing:
        raise StartupError(
            f"the database is missing migrations {', '.join(missing)}: run `nuanxin migrate`"
        )


def check_broker(settings: Settings, timeout_s: float = 5.0) -> None:
    host, port = settings.mqtt_url.host or "127.0.0.1", settings.mqtt_url.port or 1883
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except OSError as exc:
        raise StartupError(
            f"cannot reach the MQTT broker at {host}:{port} ({exc.strerror or exc}): start "
            "Mosquitto (deploy/mosquitto) or set NUANXIN_MQTT_URL"
        ) from None


def serve_metrics(settings: Settings) -> None:
    """/metrics for a process without the API (`nuanxin ingest`, `nuanxin alerting`), so
    scaled-out workers can be watched like `nuanxin serve`."""
    if settings.metrics_port is None:
        return
    try:
        prometheus_client.start_http_server(settings.metrics_port, addr=settings.api_host)
    except OSError as exc:
        raise StartupError(
            f"cannot serve /metrics on {settings.api_host}:{settings.metrics_port}"
            f" ({exc.strerror or exc}): set NUANXIN_METRICS_PORT to a free port, or unset it"
        ) from None
