"""A running ingest against a real broker and database, as tests need it: the accounts,
the registered devices, `nuanxin ingest` as a separate process, and ways to count."""

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from device_registry.provisioning import BrokerAdmin
from simulators.accounts import load_account
from tests.support.broker import BrokerInfo
from tests.support.cli import clean_env, start_nuanxin

INGEST_USER, INGEST_PASSWORD = "nuanxin-ingest", "ingest-password-for-tests-0123456789"
LOAD_USER, LOAD_PASSWORD = "nuanxin-load", "load-password-for-tests-0123456789"


@dataclass
class IngestStack:
    database_url: str
    broker: BrokerInfo
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    logs: dict[int, list[str]] = field(default_factory=dict)

    def admin(self) -> BrokerAdmin:
        broker = self.broker
        return BrokerAdmin(broker.host, broker.port, broker.admin_username, broker.admin_password)

    def setup_accounts(self) -> None:
        with self.admin() as admin:
            admin.ensure_platform_account(INGEST_USER, INGEST_PASSWORD)
            load_account(admin, LOAD_USER, LOAD_PASSWORD)

    def ingest_account(self, username: str) -> str:
        """A platform account for one more ingest process (its client id, too)."""
        with self.admin() as admin:
            admin.ensure_platform_account(username, INGEST_PASSWORD)
        return username

    def register(self, device_type: str, device_ids: list[str], **columns: Any) -> None:
        with psycopg.connect(self.database_url) as conn:
            for device_id in device_ids:
                names = ["device_id", "device_type", *columns]
                conn.execute(
                    f"INSERT INTO devices ({', '.join(names)}) VALUES"
                    f" ({', '.join(['%s'] * len(names))})",
                    [device_id, device_type, *columns.values()],
                )

    def env(self, username: str = INGEST_USER, **extra: str) -> dict[str, str]:
        """The environment of a platform process logging in as `username` (an account of
        setup_accounts or ingest_account; it is the process's client id as well)."""
        settings = {
            "NUANXIN_DATABASE_URL": self.database_url,
            "NUANXIN_MQTT_URL": f"mqtt://{self.broker.host}:{self.broker.port}",
            "NUANXIN_MQTT_USERNAME": username,
            "NUANXIN_MQTT_PASSWORD": INGEST_PASSWORD,
        }
        return clean_env(**(settings | extra))

    def start_ingest(self, **env: str) -> subprocess.Popen[str]:
        """`nuanxin ingest` in its own process; returns once it is subscribed."""
        process = start_nuanxin("ingest", env=self.env(**env))
        lines: list[str] = []
        self.processes.append(process)
        self.logs[process.pid] = lines
        threading.Thread(target=_drain, args=(process, lines), daemon=True).start()

        def subscribed() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"ingest exited with {process.returncode}: {lines[-20:]}")
            return any("ingest subscribed" in line for line in lines)

        self.wait_for(subscribed, "ingest to subscribe")
        return process

    def kill(self, process: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
        os.kill(process.pid, sig)
        process.wait(30)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def scalar(self, sql: str, *params: Any) -> Any:
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute(sql, params or None).fetchone()
        assert row is not None
        return row[0]

    def wait_for(self, condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")


def _drain(process: subprocess.Popen[str], lines: list[str]) -> None:
    """Read the process's log so its pipe never fills, keeping lines for assertions."""
    assert process.stderr is not None
    for line in process.stderr:
        lines.append(line)
