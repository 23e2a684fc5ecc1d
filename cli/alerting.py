"""`nuanxin alerting`: the alert engine alone — outbox evaluation, escalation sweep,
timer rules and notification sending (for scaling out; `nuanxin serve` runs it too)."""

import argparse
from typing import Any

from alerting.channels import build_notifiers
from alerting.service import AlertingService
from cli.signals import wait_for_stop
from cli.startup import serve_metrics
from core import db
from core.logging import configure_logging
from core.settings import Settings, load_settings

NAME = "alerting"


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Any]]:
    subparsers.add_parser(
        NAME,
        help="run the alert engine: rules, escalation, notifications",
        description=(
            "Evaluate stored signals into alerts, climb escalation ladders and send SMS, "
            "calls, app pushes and webhooks until someone acknowledges. Several engines may "
            "run against one database. Stops cleanly on SIGTERM/SIGINT."
        ),
    )
    return [(NAME, run)]


def build_alerting(settings: Settings, pool: db.ConnectionPool) -> AlertingService:
    notifiers, channels = build_notifiers(settings, pool)
    return AlertingService(
        pool,
        str(settings.database_url),
        notifiers,
        channels,
        readings_retention_days=settings.readings_retention_days,
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    serve_metrics(settings)
    pool = db.open_pool(
        str(settings.database_url), name="alerting", max_size=settings.db_pool_max_size
    )
    service = build_alerting(settings, pool)
    service.start()
    wait_for_stop()
    service.stop()
    pool.close()
    return 0
