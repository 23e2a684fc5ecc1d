"""`nuanxin migrate`: bring the database schema up to date."""

import argparse
from pathlib import Path
from typing import Any

from cli import database
from core import storage
from core.settings import load_settings
from migrations import PACKAGED_DIR
from migrations.runner import discover, migrate

NAME = "migrate"


def register(subparsers: "argparse._SubParsersAction[Any]") -> list[tuple[str, Any]]:
    parser = subparsers.add_parser(
        NAME,
        help="apply new database migrations (safe to run again and from several hosts)",
        description=(
            "Apply the migrations this release ships that the database does not have yet, "
            "each in its own transaction, under an advisory lock. Refuses to run if an "
            "applied migration file was edited. Uses TimescaleDB (hypertables, compression, "
            "retention, hourly aggregates) when the server offers it."
        ),
    )
    parser.add_argument(
        "--migrations-dir",
        type=Path,
        default=PACKAGED_DIR,
        help="read migration files from this folder instead of the packaged ones",
    )
    parser.add_argument(
        "--create-database",
        action="store_true",
        help=(
            "create the database NUANXIN_DATABASE_URL names if it does not exist yet (its "
            "account needs the CREATEDB right), then migrate it"
        ),
    )
    return [(NAME, run)]


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    migrations = discover(args.migrations_dir)
    url = str(settings.database_url)
    if args.create_database and database.create(url):
        print(f"created  database {database.database_name(url)} on {database.server_of(url)}")
    with database.connect(url, autocommit=True) as conn:
        report = migrate(
            conn,
            migrations,
            timescaledb=settings.timescaledb,
            parameters={"readings_retention_days": str(settings.readings_retention_days)},
        )
        retention_changed = storage.reconcile_readings_retention(
            conn, settings.readings_retention_days
        )
    for name in report.applied:
        print(f"applied  {name}")
    for name in report.skipped:
        print(f"skipped  {name} (needs TimescaleDB, which this server does not offer)")
    if retention_changed and not report.applied:
        print(f"readings retention set to {settings.readings_retention_days} days")
    if not report.applied and not report.skipped:
        print(f"up to date ({len(migrations)} migrations)")
    return 0
