"""Backup and restore with the PostgreSQL tools (docs/operations.md, "Backups"): a database with a
registry, readings, and alerts with their timeline and notifications — made by the real
ingest writer and alert engine — goes through `pg_dump -Fc` and `pg_restore` into a new
database and comes back row for row, with its identity sequences where they were."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg

from core.types import EventKind
from tests.support.alerting_stack import alerting_stack
from tests.support.servers import throwaway_database

TABLES = [
    "districts",
    "communities",
    "elders",
    "homes",
    "contacts",
    "devices",
    "readings",
    "events",
    "device_state",
    "alerts",
    "alert_timeline",
    "notifications",
    "schema_migrations",
]


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is not on PATH: install the PostgreSQL client tools"
    return path


def major(version_text: str) -> int:
    # "pg_dump (PostgreSQL) 15.20 (Debian …)" / "15.20 (Debian …)"
    word = next(w for w in version_text.split() if w[:1].isdigit())
    return int(word.split(".")[0])


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        tables = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}
        sequences = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences ORDER BY 1"
        ).fetchall()
    return {**tables, "sequences": sequences}


def test_dump_and_restore_keep_alerts_timelines_notifications_and_readings(
    tmp_path: Path,
) -> None:
    pg_dump, pg_restore = tool("pg_dump"), tool("pg_restore")
    with alerting_stack() as stack:
        with psycopg.connect(stack.database_url) as conn:
            server = conn.execute("SHOW server_version").fetchone()
        assert server is not None
        client = subprocess.run([pg_dump, "--version"], capture_output=True, text=True).stdout
        # pg_dump refuses a newer server; pg_restore of the same major is the safe pairing.
        assert major(client) >= major(str(server[0])), (client, server)

        for n in range(20):
            stack.reading("pir-1", motion=n % 2 == 0, battery=90)
            stack.clock.advance(minutes=1)
        stack.event("btn-1", EventKind.BUTTON_PRESS)
        stack.reading("smoke-1", smoke=True)
        stack.run()
        stack.clock.advance(minutes=4)  # level 1 unanswered: the family is paged
        stack.run()
        before = snapshot(stack.database_url)
        assert len(before["alerts"]) >= 2
        assert len(before["alert_timeline"]) > len(before["alerts"])
        assert len(before["notifications"]) >= 4
        assert len(before["readings"]) >= 21

        dump = tmp_path / "nuanxin.dump"
        subprocess.run(
            [pg_dump, "--format=custom", f"--file={dump}", "--dbname", stack.database_url],
            check=True,
        )
        with throwaway_database("nuanxin_restore") as restored:
            subprocess.run(
                [pg_restore, "--no-owner", "--exit-on-error", "--dbname", restored, str(dump)],
                check=True,
            )
            after = snapshot(restored)

    assert after.keys() == before.keys()
    for name, rows in before.items():
        assert after[name] == rows, name
