"""`nuanxin bench ingest`: simulated devices publish readings through the real broker (the
project's configuration) into the real database, and we measure what `nuanxin ingest`
makes of it — beside a naive baseline (one INSERT and COMMIT per message) on the same run.

Figures, as JSON:
- stored_per_s: readings stored per second at full speed (first publish → last commit);
- per_cpu_second: readings stored per CPU-second of the ingest process;
- latency_ms: publish → commit p50/p99 at a steady 2,000 readings/s, from PostgreSQL's
  commit timestamps (track_commit_timestamp) against the publisher's clock;
- peak_rss_mb of the ingest process with `registered` devices in the directory;
- the count check: published == stored, no duplicates.
Everything runs on this machine: embedded PostgreSQL, Mosquitto, publisher and ingest.
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.naive import NaiveIngest
from bench.process import cpu_seconds, peak_rss_mb, percentile
from core.types import DeviceType
from device_registry.provisioning import BrokerAdmin
from embedded.account import server_workdir
from embedded.mosquitto import BrokerInfo, free_port, start_broker
from embedded.postgres import EmbeddedPostgres
from ingest.adapters import StaticDirectory
from ingest.messages import DeviceInfo
from migrations import PACKAGED_DIR
from migrations.runner import discover, migrate
from simulators.accounts import load_account
from simulators.load import LoadGenerator
from simulators.mqtt import Endpoint

INGEST_USER, LOAD_USER = "nuanxin-bench-ingest", "nuanxin-bench-load"
# The baseline subscriber's own account: with ingest's, it would take ingest's session.
NAIVE_USER = "nuanxin-bench-naive"
# Commit timestamps for latencies; a restart of the rig's server must pass them again.
POSTGRES_SETTINGS = {"track_commit_timestamp": "on", "synchronous_commit": "on"}


@dataclass(frozen=True)
class IngestBenchConfig:
    messages: int = 50_000
    devices: int = 1_000
    registered: int = 100_000
    latency_rate: int = 2_000
    latency_seconds: int = 10
    baseline_messages: int = 5_000


@dataclass
class Rig:
    workdir: Path
    postgres: EmbeddedPostgres
    broker: BrokerInfo
    database_url: str
    secret: str

    def scalar(self, sql: str, *params: Any) -> Any:
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute(sql, params or None).fetchone()
        return None if row is None else row[0]

    def wait_stored(self, count: int, like: str, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.scalar("SELECT count(*) FROM readings WHERE msg_id LIKE %s", like) >= count:
                return
            time.sleep(0.2)
        raise TimeoutError(f"fewer than {count} readings stored for {like}")


def run(config: IngestBenchConfig) -> dict[str, Any]:
    with server_workdir("nuanxin-bench-") as tmp:
        rig = _rig(Path(tmp), config)
        try:
            return _measure(rig, config)
        finally:
            rig.broker.stop()
            rig.postgres.stop()


def _rig(workdir: Path, config: IngestBenchConfig) -> Rig:
    postgres = EmbeddedPostgres(workdir / "postgres", free_port())
    postgres.start(POSTGRES_SETTINGS)
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        migrate(conn, discover(PACKAGED_DIR))
        with (
            conn.cursor() as cur,
            cur.copy("COPY devices (device_id, device_type, state) FROM STDIN") as copy,
        ):
            for i in range(config.registered):
                copy.write_row((f"bench-{i:06d}", "pir", "commissioned"))
    broker = start_broker(workdir / "broker")
    secret = "bench-" + "x" * 24
    with BrokerAdmin(
        broker.host, broker.port, broker.admin_username, broker.admin_password
    ) as admin:
        admin.ensure_platform_account(INGEST_USER, secret)
        admin.ensure_platform_account(NAIVE_USER, secret)
        load_account(admin, LOAD_USER, secret)
    return Rig(workdir, postgres, broker, postgres.url, secret)


def _measure(rig: Rig, config: IngestBenchConfig) -> dict[str, Any]:
    devices = {f"bench-{i:06d}": DeviceType.PIR for i in range(config.devices)}
    endpoint = Endpoint(rig.broker.host, rig.broker.port)
    ingest = _start_ingest(rig)
    try:
        cpu_before = cpu_seconds(ingest.pid)
        with LoadGenerator(endpoint, LOAD_USER, rig.secret, devices, run_id="full") as load:
            started = time.time()
            load.run(config.messages, ack_timeout_s=300)
            rig.wait_stored(config.messages, "full-%")
        cpu = cpu_seconds(ingest.pid) - cpu_before
        last_commit = rig.scalar(
            "SELECT extract(epoch FROM max(pg_xact_commit_timestamp(xmin))) FROM readings"
            " WHERE msg_id LIKE 'full-%'"
        )
        full_s = float(last_commit) - started
        latency = _latency(rig, endpoint, devices, config)
        rss = peak_rss_mb(ingest.pid)
    finally:
        ingest.terminate()
        ingest.wait(60)
    stored = rig.scalar("SELECT count(*) FROM readings")
    distinct = rig.scalar("SELECT count(DISTINCT (device_id, msg_id)) FROM readings")
    published = config.messages + config.latency_rate * config.latency_seconds
    baseline = _baseline(rig, endpoint, devices, config)
    ours = config.messages / full_s
    return {
        "benchmark": "ingest",
        "messages": config.messages,
        "devices_publishing": config.devices,
        "devices_registered": config.registered,
        "stored_per_s": round(ours),
        "per_cpu_second": round(config.messages / cpu) if cpu else None,
        "ingest_cpu_s": round(cpu, 2),
        "latency_ms_at_rate": {"rate_per_s": config.latency_rate, **latency},
        "ingest_peak_rss_mb": round(rss, 1),
        "count_check": {
            "published": published,
            "stored": stored,
            "duplicates": stored - distinct,
            "ok": stored == distinct == published,
        },
        "baseline": {**baseline, "ratio": round(ours / baseline["stored_per_s"], 1)},
    }


def _start_ingest(rig: Rig) -> subprocess.Popen[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "NUANXIN_DATABASE_URL": rig.database_url,
        "NUANXIN_MQTT_URL": f"mqtt://{rig.broker.host}:{rig.broker.port}",
        "NUANXIN_MQTT_USERNAME": INGEST_USER,
        "NUANXIN_MQTT_PASSWORD": rig.secret,
        "NUANXIN_LOG_LEVEL": "WARNING",
        # the batch settings under test, when given
        **{k: v for k, v in os.environ.items() if k.startswith("NUANXIN_INGEST_BATCH_")},
    }
    command = [sys.executable, "-c", "from cli.main import main; main(['ingest'])"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    _wait_subscribed(rig)
    return process


def _wait_subscribed(rig: Rig, timeout_s: float = 30) -> None:
    """A probe reading from the load account: once stored, ingest is subscribed."""
    deadline = time.monotonic() + timeout_s
    probe = {"bench-000000": DeviceType.PIR}
    with LoadGenerator(
        Endpoint(rig.broker.host, rig.broker.port), LOAD_USER, rig.secret, probe, run_id="probe"
    ) as load:
        while time.monotonic() < deadline:
            load.run(1)
            time.sleep(0.3)
            if rig.scalar("SELECT count(*) FROM readings WHERE msg_id LIKE 'probe-%'"):
                with psycopg.connect(rig.database_url) as conn:
                    conn.execute("DELETE FROM readings WHERE msg_id LIKE 'probe-%'")
                return
    raise TimeoutError("ingest did not subscribe")


def _latency(
    rig: Rig, endpoint: Endpoint, devices: dict[str, DeviceType], config: IngestBenchConfig
) -> dict[str, float]:
    count = config.latency_rate * config.latency_seconds
    with LoadGenerator(endpoint, LOAD_USER, rig.secret, devices, run_id="lat") as load:
        load.run(count, rate=config.latency_rate, ack_timeout_s=120)
        rig.wait_stored(count, "lat-%")
        published = dict(load.published_at)
    with psycopg.connect(rig.database_url) as conn:
        rows = conn.execute(
            "SELECT msg_id, extract(epoch FROM pg_xact_commit_timestamp(xmin)) FROM readings"
            " WHERE msg_id LIKE 'lat-%'"
        ).fetchall()
    millis = [(float(commit) - published[msg]) * 1000 for msg, commit in rows]
    return {
        "p50": round(percentile(millis, 0.50), 1),
        "p99": round(percentile(millis, 0.99), 1),
        "max": round(max(millis), 1),
    }


def _baseline(
    rig: Rig, endpoint: Endpoint, devices: dict[str, DeviceType], config: IngestBenchConfig
) -> dict[str, Any]:
    directory = StaticDirectory(DeviceInfo(d, t) for d, t in devices.items())
    naive = NaiveIngest(
        rig.broker.host, rig.broker.port, NAIVE_USER, rig.secret, rig.database_url, directory
    )
    try:
        naive.subscribed.wait(10)
        with LoadGenerator(endpoint, LOAD_USER, rig.secret, devices, run_id="naive") as load:
            started = time.time()
            load.run(config.baseline_messages, ack_timeout_s=600)
            rig.wait_stored(config.baseline_messages, "naive-%", timeout_s=600)
        last = rig.scalar(
            "SELECT extract(epoch FROM max(pg_xact_commit_timestamp(xmin))) FROM readings"
            " WHERE msg_id LIKE 'naive-%'"
        )
    finally:
        naive.close()
    elapsed = float(last) - started
    return {
        "messages": config.baseline_messages,
        "stored_per_s": round(config.baseline_messages / elapsed),
    }


def main(config: IngestBenchConfig) -> int:
    result = run(config)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if result["count_check"]["ok"] else 1
