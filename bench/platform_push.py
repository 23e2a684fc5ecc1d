"""`nuanxin bench ingest --transport ctwing`: CTWing pushes from 20 concurrent senders
(keep-alive HTTP) into `nuanxin api` against a real database, and what it makes of them.

Figures, as JSON:
- stored_per_s: pushes stored per second (first send → last commit);
- answer_ms: send → 200 answer p50/p99 at the sender (the answer comes after the commit,
  so this bounds push → commit from above);
- receive_to_commit_ms: the server's receipt → PostgreSQL's commit timestamp
  (track_commit_timestamp) p50/p99;
- count_check: sent == stored, the retried pushes stored nothing more, none lost.
Everything runs on this machine: embedded PostgreSQL, the API process, the senders.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.process import cpu_seconds, percentile
from embedded.account import server_workdir
from embedded.mosquitto import free_port
from embedded.postgres import EmbeddedPostgres
from migrations import PACKAGED_DIR
from migrations.runner import discover, migrate
from simulators.carriers import CtwingDevice, Push, now_ms

TOKEN = "bench-" + "t" * 32
POSTGRES_SETTINGS = {"track_commit_timestamp": "on", "synchronous_commit": "on"}


@dataclass(frozen=True)
class PushBenchConfig:
    messages: int = 20_000
    devices: int = 1_000
    senders: int = 20
    retries: int = 1_000  # pushes sent a second time: must store nothing more
    workers: int = 1  # API processes (uvicorn workers) taking the pushes


def run(config: PushBenchConfig) -> dict[str, Any]:
    with server_workdir("nuanxin-bench-push-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "postgres", free_port())
        postgres.start(POSTGRES_SETTINGS)
        try:
            _seed(postgres.url, config.devices)
            return _measure(postgres.url, config)
        finally:
            postgres.stop()


def _seed(url: str, devices: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, discover(PACKAGED_DIR))
        columns = "device_id, device_type, state, platform, platform_device_id, model"
        with conn.cursor() as cur, cur.copy(f"COPY devices ({columns}) FROM STDIN") as copy:
            for i in range(devices):
                row = (f"nb-{i:06d}", "smoke", "commissioned", "ctwing", f"ct{i:06d}")
                copy.write_row((*row, "lian-nb-smoke"))


def _pushes(config: PushBenchConfig) -> list[Push]:
    devices = [CtwingDevice(f"ct{i:06d}", f"86{i:013d}") for i in range(config.devices)]
    start = now_ms()
    return [
        devices[n % config.devices].data_report(
            {"Alarm_Status": 7, "Battery_Level": 90, "RSRP": -90}, start + n // config.devices
        )
        for n in range(config.messages)
    ]


def _measure(url: str, config: PushBenchConfig) -> dict[str, Any]:
    port = free_port()
    api = _start_api(url, port, config.workers)
    base_url = f"http://127.0.0.1:{port}"
    try:
        pushes = _pushes(config)
        cpu_before = _cpu(api)
        started = time.time()
        answers = asyncio.run(_send_all(base_url, pushes, config.senders))
        cpu = _cpu(api) - cpu_before
        last_commit = _scalar(
            url, "SELECT extract(epoch FROM max(pg_xact_commit_timestamp(xmin))) FROM readings"
        )
        stored_after_first = _scalar(url, "SELECT count(*) FROM readings")
        retried = asyncio.run(_send_all(base_url, pushes[: config.retries], config.senders))
    finally:
        api.terminate()
        api.wait(60)
    elapsed = float(last_commit) - started
    stored = _scalar(url, "SELECT count(*) FROM readings")
    distinct = _scalar(url, "SELECT count(DISTINCT (device_id, msg_id)) FROM readings")
    statuses = [status for status, _ in answers + retried]
    return {
        "benchmark": "ingest --transport ctwing",
        "pushes": config.messages,
        "senders": config.senders,
        "devices": config.devices,
        "api_workers": config.workers,
        "stored_per_s": round(config.messages / elapsed),
        "api_cpu_s": round(cpu, 2),
        "answer_ms": _quantiles([ms for _, ms in answers]),
        "receive_to_commit_ms": _commit_latency(url),
        "count_check": {
            "sent": config.messages,
            "stored": stored,
            "stored_before_retries": stored_after_first,
            "retried": config.retries,
            "duplicates": stored - distinct,
            "lost": config.messages - distinct,
            "non_200": sum(1 for status in statuses if status != 200),
            "ok": stored == distinct == stored_after_first == config.messages
            and all(status == 200 for status in statuses),
        },
    }


async def _send_all(base_url: str, pushes: list[Push], senders: int) -> list[tuple[int, float]]:
    """Each sender posts its share one after another on its own keep-alive connection.

    A minimal HTTP/1.1 client (status line, headers, Content-Length body): the senders
    share this machine's two cores with the API, so a general-purpose client's own CPU
    would be measured instead of the API's."""
    host, port = base_url.removeprefix("http://").split(":")
    path = f"/api/v1/platforms/ctwing/{TOKEN}"

    async def sender(share: list[Push]) -> list[tuple[int, float]]:
        reader, writer = await asyncio.open_connection(host, int(port))
        results = []
        try:
            for push in share:
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(push.body)}\r\n\r\n"
                ).encode()
                sent = time.perf_counter()
                writer.write(head + push.body)
                status = await _response(reader)
                results.append((status, (time.perf_counter() - sent) * 1000))
        finally:
            writer.close()
        return results

    shares = [pushes[i::senders] for i in range(senders)]
    done = await asyncio.gather(*(sender(share) for share in shares))
    return [result for results in done for result in results]


async def _response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        (
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length:")
        ),
        0,
    )
    await reader.readexactly(length)
    return int(lines[0].split()[1])


def _start_api(url: str, port: int, workers: int) -> subprocess.Popen[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "NUANXIN_DATABASE_URL": url,
        "NUANXIN_CTWING_PUSH_TOKEN": TOKEN,
        "NUANXIN_API_PORT": str(port),
        "NUANXIN_LOG_LEVEL": "WARNING",
    }
    args = ["api", "--platforms-only", "--workers", str(workers)]
    command = [sys.executable, "-c", f"from cli.main import main; main({args!r})"]
    process = subprocess.Popen(command, env=env, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise TimeoutError("the API did not start")


def _cpu(process: subprocess.Popen[str]) -> float:
    """CPU of the API process and its children (uvicorn workers)."""
    pids = [process.pid]
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    if children.exists():
        pids += [int(pid) for pid in children.read_text().split()]
    return sum(cpu_seconds(pid) for pid in pids if Path(f"/proc/{pid}").exists())


def _commit_latency(url: str) -> dict[str, float]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - received_at) FROM readings"
        ).fetchall()
    return _quantiles([float(seconds) * 1000 for (seconds,) in rows])


def _quantiles(millis: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(millis, 0.50), 1),
        "p99": round(percentile(millis, 0.99), 1),
        "max": round(max(millis, default=0.0), 1),
    }


def _scalar(url: str, sql: str) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return None if row is None else row[0]


def main(config: PushBenchConfig) -> int:
    result = run(config)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if result["count_check"]["ok"] else 1
