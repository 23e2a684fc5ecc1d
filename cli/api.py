"""`nuanxin api`: the REST API and OpenAPI docs alone (for scaling out)."""

import argparse
from typing import Any

import uvicorn

from alerting.channels import channels_for
from api.app import create_app
from api.serving import server_config
from cli.wiring import BrokerProvisioner
from core import db
from core.logging import configure_logging
from core.settings import load_settings

NAME = "api"


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Any]]:
    subparsers.add_parser(
        NAME,
        help="serve the REST API (/api/v1) and its docs (/docs)",
        description="Serve the REST API on NUANXIN_API_HOST:NUANXIN_API_PORT.",
    )
    return [(NAME, run)]


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    pool = db.open_pool(str(settings.database_url), name="api", max_size=settings.db_pool_max_size)
    provisioner = BrokerProvisioner(settings)
    try:
        app = create_app(settings, pool, provisioner, channels=channels_for(settings))
        config = server_config(app, host=settings.api_host, port=settings.api_port)
        uvicorn.Server(config).run()
    finally:
        provisioner.close()
        pool.close()
    return 0
