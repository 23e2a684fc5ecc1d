"""The migration runner against real servers: idempotent, tamper-evident, serialised."""

import shutil
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import TupleRow

from core.errors import MigrationError, UnknownMigration
from core.settings import TimescaleMode
from migrations import PACKAGED_DIR
from migrations.runner import LOCK_KEY, discover, migrate
from tests.support.cli import clean_env, run_nuanxin, start_nuanxin

PACKAGED = [m.name for m in discover(PACKAGED_DIR)]


def recorded(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT name, outcome FROM schema_migrations ORDER BY version")
        return [(name, outcome) for name, outcome in rows]


def test_migrate_empty_postgres_then_nothing_to_do(empty_database: str) -> None:
    env = clean_env(NUANXIN_DATABASE_URL=empty_database)
    first = run_nuanxin("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied  0001_core_timeseries.sql" in first.stdout
    assert "skipped  0002_timescaledb.sql" in first.stdout

    second = run_nuanxin("migrate", env=env)
    assert second.returncode == 0, second.stderr
    assert "applied" not in second.stdout and "skipped" not in second.stdout
    assert recorded(empty_database) == [
        (name, "skipped" if name == "0002_timescaledb.sql" else "applied") for name in PACKAGED
    ]


def test_migrate_timescaledb_then_nothing_to_do(fresh_timescaledb_url: str) -> None:
    env = clean_env(NUANXIN_DATABASE_URL=fresh_timescaledb_url)
    first = run_nuanxin("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("applied") == len(PACKAGED)

    second = run_nuanxin("migrate", env=env)
    assert second.returncode == 0, second.stderr
    assert "applied" not in second.stdout
    assert all(outcome == "applied" for _, outcome in recorded(fresh_timescaledb_url))


def test_edited_migration_is_refused_by_name(empty_database: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(PACKAGED_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    env = clean_env(NUANXIN_DATABASE_URL=empty_database)
    assert run_nuanxin("migrate", "--migrations-dir", str(folder), env=env).returncode == 0

    edited = folder / "0001_core_timeseries.sql"
    edited.write_text(edited.read_text() + "\n-- a harmless-looking edit\n")
    result = run_nuanxin("migrate", "--migrations-dir", str(folder), env=env)
    assert result.returncode != 0
    assert "0001_core_timeseries.sql" in result.stderr
    assert "edited" in result.stderr


def test_new_migration_is_applied_alone(empty_database: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(PACKAGED_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    env = clean_env(NUANXIN_DATABASE_URL=empty_database)
    assert run_nuanxin("migrate", "--migrations-dir", str(folder), env=env).returncode == 0
    (folder / "9001_extra.sql").write_text("CREATE TABLE extra (id int);\n")
    result = run_nuanxin("migrate", "--migrations-dir", str(folder), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "applied  9001_extra.sql"


def test_failing_migration_rolls_back_entirely(empty_database: str, tmp_path: Path) -> None:
    (tmp_path / "0001_half.sql").write_text("CREATE TABLE half (id int);\nSELECT 1/0;\n")
    with psycopg.connect(empty_database, autocommit=True) as conn:
        with pytest.raises(MigrationError, match=r"0001_half\.sql failed"):
            migrate(conn, discover(tmp_path))
        assert conn.execute("SELECT to_regclass('half')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (0,)


def test_database_newer_than_code_is_refused(empty_database: str, tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (id int);\n")
    (tmp_path / "0002_b.sql").write_text("CREATE TABLE b (id int);\n")
    with psycopg.connect(empty_database, autocommit=True) as conn:
        migrate(conn, discover(tmp_path))
        (tmp_path / "0002_b.sql").unlink()
        with pytest.raises(UnknownMigration, match=r"0002_b\.sql"):
            migrate(conn, discover(tmp_path))


def test_timescaledb_on_without_the_extension_is_refused(empty_database: str) -> None:
    with (
        psycopg.connect(empty_database, autocommit=True) as conn,
        pytest.raises(MigrationError, match="NUANXIN_TIMESCALEDB=on"),
    ):
        migrate(conn, discover(PACKAGED_DIR), timescaledb=TimescaleMode.ON)


def test_concurrent_runs_apply_each_file_once(empty_database: str) -> None:
    """Both runners are made to wait on the lock together, then race for it."""
    env = clean_env(NUANXIN_DATABASE_URL=empty_database)
    with psycopg.connect(empty_database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        runners = [start_nuanxin("migrate", env=env) for _ in range(2)]
        _wait_for_lock_waiters(holder, expected=2)
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    outputs = [runner.communicate(timeout=120) for runner in runners]
    assert [runner.returncode for runner in runners] == [0, 0], outputs
    stdouts = sorted(out for out, _ in outputs)
    assert stdouts[0].startswith("applied  0001_core_timeseries.sql")
    assert stdouts[1].startswith("up to date")
    assert [name for name, _ in recorded(empty_database)] == PACKAGED


def _wait_for_lock_waiters(conn: psycopg.Connection[TupleRow], expected: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
        if row is not None and row[0] >= expected:
            return
        time.sleep(0.05)
    raise AssertionError(f"{expected} migrate processes never waited on the lock")
