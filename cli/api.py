"""`nuanxin api`: the REST API and OpenAPI docs alone (for scaling out); with
`--platforms-only`, only the carrier-platform push receiver, in `--workers` processes."""

import argparse
from typing import Any

from alerting.channels import channels_for
from api.app import create_app
from api.serving import serve, server_config
from cli.wiring import BrokerProvisioner
from core import db
from core.logging import configure_logging
from core.settings import load_settings

NAME = "api"


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Any]]:
    parser = subparsers.add_parser(
        NAME,
        help="serve the REST API (/api/v1) and its docs (/docs)",
        description="Serve the REST API on NUANXIN_API_HOST:NUANXIN_API_PORT.",
    )
    parser.add_argument(
        "--platforms-only",
        action="store_true",
        help="serve only the CTWing/OneNET push routes (/api/v1/platforms/…), /healthz, /metrics",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (with --platforms-only; each commits its own pushes)",
    )
    return [(NAME, run)]


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.platforms_only:
        return _receiver(settings.api_host, settings.api_port, args.workers)
    pool = db.open_pool(str(settings.database_url), name="api", max_size=settings.db_pool_max_size)
    provisioner = BrokerProvisioner(settings)
    try:
        app = create_app(settings, pool, provisioner, channels=channels_for(settings))
        config = server_config(app, host=settings.api_host, port=settings.api_port)
        serve(config)
    finally:
        provisioner.close()
        pool.close()
    return 0


def _receiver(host: str, port: int, workers: int) -> int:
    factory = "api.platform_receiver:create_receiver"
    config = server_config(factory, factory=True, host=host, port=port, workers=workers)
    serve(config)
    return 0
