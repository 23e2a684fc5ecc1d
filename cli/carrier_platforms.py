"""`nuanxin platforms iotda`: the Huawei IoTDA AMQP 1.0 consumer, a process of its own
beside `nuanxin ingest` (`nuanxin serve` does not run it)."""

import argparse
import time
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

from cli.signals import wait_for_stop
from cli.startup import serve_metrics
from core.errors import ConfigError
from core.logging import configure_logging
from core.settings import Settings, load_settings
from ingest.amqp_client import ReceiverConfig
from ingest.platforms import iotda
from ingest.platforms.iotda_service import IotdaConfig, IotdaConsumer, iotda_username

NAME = "platforms"


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Any]]:
    parser = subparsers.add_parser(
        NAME,
        help="consume a carrier IoT platform's message channel (iotda)",
        description="Consumers of carrier IoT platforms that deliver over a message queue.",
    )
    platforms = parser.add_subparsers(dest="platform", metavar="PLATFORM", required=True)
    platforms.add_parser(
        "iotda",
        help="Huawei Cloud IoTDA over AMQP 1.0",
        description=(
            "Receive IoTDA data-forwarding messages (device.property, device.message,"
            " device.status) from NUANXIN_IOTDA_QUEUE over AMQP 1.0, store each once and"
            " accept it only after the commit; quarantine what cannot be used. Stops"
            " cleanly on SIGTERM/SIGINT."
        ),
    )
    return [(NAME, run)]


def iotda_config(settings: Settings) -> IotdaConfig:
    """The consumer's configuration, or a ConfigError that says what to set."""
    url = settings.iotda_amqp_url
    if url is None:
        raise ConfigError(
            "invalid configuration: NUANXIN_IOTDA_AMQP_URL is not set (the IoTDA AMQP"
            " endpoint, amqps://HOST:5671, from the console's access details)"
        )
    code = settings.iotda_access_code
    if url.username and settings.iotda_access_key:
        raise ConfigError(
            "invalid configuration: NUANXIN_IOTDA_AMQP_URL carries a user and"
            " NUANXIN_IOTDA_ACCESS_KEY is set too: use one way to log in"
        )
    if url.username:
        user, password = unquote(url.username), unquote(url.password or "")

        def username() -> str:
            return user

    elif settings.iotda_access_key and code is not None:
        key, instance, password = (
            settings.iotda_access_key,
            settings.iotda_instance_id,
            code.get_secret_value(),
        )

        def username() -> str:
            return iotda_username(key, instance, int(time.time() * 1000))

    else:
        raise ConfigError(
            "invalid configuration: set NUANXIN_IOTDA_ACCESS_KEY and"
            " NUANXIN_IOTDA_ACCESS_CODE (IoTDA console: access credentials)"
        )
    port = url.port or (5671 if url.scheme == "amqps" else 5672)
    return IotdaConfig(
        database_url=str(settings.database_url),
        receiver=ReceiverConfig(
            url=f"{url.scheme}://{url.host}:{port}",
            address=settings.iotda_queue,
            username=username,
            password=password,
            window=2 * settings.ingest_batch_max,  # one batch committing, one filling
            virtual_host=settings.iotda_amqp_vhost,
            ca_file=settings.iotda_ca_file,
            topic=iotda.TOPIC,
        ),
        batch_max=settings.ingest_batch_max,
        batch_wait=timedelta(milliseconds=settings.ingest_batch_wait_ms),
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    config = iotda_config(settings)
    serve_metrics(settings)
    consumer = IotdaConsumer(config)
    consumer.start()
    wait_for_stop()
    consumer.stop()
    return 0
