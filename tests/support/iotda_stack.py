"""The machine's RabbitMQ standing in for Huawei IoTDA (AMQP 1.0 plugin), a queue of the
test's own, and `nuanxin platforms iotda` consuming it as a separate process."""

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from simulators.iotda import IotdaPublisher
from tests.support.cli import clean_env, start_nuanxin
from tests.support.ingest_stack import _drain

RABBITMQ_URL = "amqp://127.0.0.1:5672"
RABBITMQ_USER, RABBITMQ_PASSWORD = "guest", "guest"


def queue_depth(name: str) -> int:
    """Messages in the queue, ready or delivered and not yet settled."""
    listing = subprocess.run(
        [_rabbitmqctl(), "-q", "list_queues", "name", "messages", "--formatter", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return next(int(q["messages"]) for q in json.loads(listing) if q["name"] == name)


@contextmanager
def amqp_queue() -> Iterator[str]:
    """A durable queue with a unique name (declared by publishing to /queue/NAME), deleted
    afterwards."""
    name = f"nuanxin-test-{uuid.uuid4().hex[:12]}"
    IotdaPublisher(RABBITMQ_URL, f"/queue/{name}", RABBITMQ_USER, RABBITMQ_PASSWORD).close()
    try:
        yield name
    finally:
        subprocess.run(
            [_rabbitmqctl(), "-q", "delete_queue", name], capture_output=True, timeout=60
        )


def _rabbitmqctl() -> str:
    found = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    return found


@dataclass
class IotdaStack:
    database_url: str
    queue: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    logs: dict[int, list[str]] = field(default_factory=dict)

    def publisher(self) -> IotdaPublisher:
        return IotdaPublisher(
            RABBITMQ_URL, f"/queue/{self.queue}", RABBITMQ_USER, RABBITMQ_PASSWORD
        )

    def register(self, device_id: str, iotda_id: str, imei: str | None = None) -> None:
        """A Wanlin NB306 smoke detector registered on IoTDA."""
        with psycopg.connect(self.database_url) as conn:
            conn.execute(
                "INSERT INTO devices (device_id, device_type, model, platform,"
                " platform_device_id, imei) VALUES (%s, 'smoke', 'NB306', 'iotda', %s, %s)",
                (device_id, iotda_id, imei),
            )

    def env(self, password: str = RABBITMQ_PASSWORD, **extra: str) -> dict[str, str]:
        settings = {
            "NUANXIN_DATABASE_URL": self.database_url,
            "NUANXIN_IOTDA_AMQP_URL": f"amqp://{RABBITMQ_USER}:{password}@127.0.0.1:5672",
            "NUANXIN_IOTDA_QUEUE": f"/amq/queue/{self.queue}",
        }
        return clean_env(**(settings | extra))

    def start_consumer(self, wait: bool = True, **env: str) -> subprocess.Popen[str]:
        process = start_nuanxin("platforms", "iotda", env=self.env(**env))
        lines: list[str] = []
        self.processes.append(process)
        self.logs[process.pid] = lines
        threading.Thread(target=_drain, args=(process, lines), daemon=True).start()
        if wait:
            self.wait_for(lambda: self.logged(process, "amqp receiving from"), "the receiver")
        return process

    def logged(self, process: subprocess.Popen[str], words: str) -> bool:
        lines = self.logs[process.pid]
        if process.poll() is not None and not any(words in line for line in lines):
            raise AssertionError(f"consumer exited with {process.returncode}: {lines[-20:]}")
        return any(words in line for line in lines)

    def kill(self, process: subprocess.Popen[str]) -> None:
        os.kill(process.pid, signal.SIGKILL)
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
