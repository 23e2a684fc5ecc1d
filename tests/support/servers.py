"""Starting and stopping the real servers tests talk to.

Servers of a test's own (a PostgreSQL it stops, a broker with the project configuration)
live in `server_workdir`s, not under pytest's tmp_path: as root they run as the servers'
account, which a private tmp_path would shut out."""

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psycopg

from embedded.account import server_workdir
from embedded.postgres import EmbeddedPostgres

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMESCALEDB_SERVER = REPO_ROOT / "tests" / "timescaledb" / "server.mjs"

# The machine's PostgreSQL; override to run the suite elsewhere.
PG_ADMIN_URL = os.environ.get(
    "NUANXIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url(admin_url: str, dbname: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{dbname}"


@contextmanager
def throwaway_database(prefix: str = "nuanxin_test") -> Iterator[str]:
    """A new, empty database on the local PostgreSQL, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(PG_ADMIN_URL, name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def timescaledb_server(startup_timeout_s: float = 60) -> Iterator[str]:
    """TimescaleDB 2.23 (PGlite WebAssembly build) on a free port; yields its URL.

    It serves one database and one session at a time; clients must send a password.
    """
    node = shutil.which("node")
    if node is None or not (REPO_ROOT / "node_modules" / "@unni-craftsman" / "pglite").exists():
        raise RuntimeError(
            "the TimescaleDB test server needs Node 20 and the locked helpers: run `npm ci`"
        )
    port = free_port()
    proc = subprocess.Popen(
        [node, str(TIMESCALEDB_SERVER), str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_ready(proc, startup_timeout_s)
        yield f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres?sslmode=disable"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[str], timeout_s: float) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("ready"):
            return
        if not line and proc.poll() is not None:
            raise RuntimeError(f"TimescaleDB test server exited with {proc.returncode}")
    raise RuntimeError("TimescaleDB test server did not start in time")


@contextmanager
def own_postgres(server_settings: Mapping[str, str] | None = None) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of the test's own, which it may stop and start: the demo's embedded
    server, started the same way (as root, as the servers' account), stopped afterwards."""
    with server_workdir("nuanxin-test-pg-") as workdir:
        postgres = EmbeddedPostgres(workdir / "pg", free_port())
        postgres.start(server_settings)
        try:
            yield postgres
        finally:
            postgres.stop()
