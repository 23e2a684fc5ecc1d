"""`nuanxin ingest`: the MQTT subscriber that stores every message once (alone, for
scaling out; `nuanxin serve` runs it with everything else)."""

import argparse
from datetime import timedelta
from typing import Any

from cli.signals import wait_for_stop
from cli.startup import serve_metrics
from core.logging import configure_logging
from core.settings import Settings, load_settings
from ingest.mqtt_client import SubscriberConfig
from ingest.service import IngestConfig, IngestService

NAME = "ingest"


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Any]]:
    subparsers.add_parser(
        NAME,
        help="subscribe to device topics and store every message once",
        description=(
            "Subscribe to nuanxin/v1/+/+ and zigbee2mqtt/# with a persistent MQTT 5 "
            "session, store messages in batches, acknowledge them after the commit, and "
            "quarantine what cannot be used. Stops cleanly on SIGTERM/SIGINT."
        ),
    )
    return [(NAME, run)]


def ingest_config(settings: Settings) -> IngestConfig:
    url = settings.mqtt_url
    return IngestConfig(
        database_url=str(settings.database_url),
        subscriber=SubscriberConfig(
            host=url.host or "127.0.0.1",
            port=url.port or 1883,
            username=settings.mqtt_username,
            password=(
                settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            ),
            client_id=settings.mqtt_username,  # the broker binds the account to it
            share_group=settings.ingest_share_group,
            tls=url.scheme == "mqtts",
            ca_file=settings.mqtt_ca_file,
        ),
        whole_formats=settings.ingest_zigbee2mqtt,
        batch_max=settings.ingest_batch_max,
        batch_wait=timedelta(milliseconds=settings.ingest_batch_wait_ms),
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    serve_metrics(settings)
    service = IngestService(ingest_config(settings))
    service.start()
    wait_for_stop()
    service.stop()
    return 0
