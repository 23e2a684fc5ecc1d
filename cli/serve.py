"""`nuanxin serve`: ingest, the alert engine and the API in one process."""

import argparse
from typing import Any

from cli.platform import Platform
from core.logging import configure_logging
from core.settings import load_settings

NAME = "serve"


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Any]]:
    subparsers.add_parser(
        NAME,
        help="run ingest, the alert engine and the API in one process",
        description=(
            "Check the database (reachable, migrated) and the broker, then run ingest, the "
            "alert engine with its scheduler, and the API on NUANXIN_API_HOST:PORT. "
            "SIGTERM/SIGINT: finish and commit the current batch, disconnect cleanly, stop "
            "the scheduler. Health: /healthz, /readyz, /metrics."
        ),
    )
    return [(NAME, run)]


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    platform = Platform.build(settings)
    platform.start()
    platform.run_until_signal()
    return 0
