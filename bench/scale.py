"""`nuanxin bench scale`: 1, 2 and 4 ingest processes on one shared subscription, and two
alert engines, against one database, under readings from thousands of homes with
emergency buttons pressed meanwhile.

Per configuration, as JSON: stored readings/s; lost and duplicated readings (must be 0);
duplicate notifications (must be 0); devices whose derived state is not their newest
reading (per-device ordering violations, must be 0).
"""

import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.ingest import INGEST_USER, LOAD_USER, IngestBenchConfig, Rig, _rig
from bench.process import start_nuanxin
from bench.seed import button_id, seed_buttons
from core.types import DeviceType
from device_registry.provisioning import BrokerAdmin
from simulators.devices import SimulatedDevice
from simulators.load import LoadGenerator
from simulators.mqtt import Endpoint
from simulators.twilio_server import TwilioServer

PRESSES = 20


@dataclass(frozen=True)
class ScaleBenchConfig:
    homes: int = 2_000
    messages: int = 40_000
    processes: tuple[int, ...] = (1, 2, 4)


def run(config: ScaleBenchConfig) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nuanxin-bench-scale-") as tmp:
        rig = _rig(Path(tmp), IngestBenchConfig(registered=config.homes * 4))
        twilio = TwilioServer(callback_delay_ms=None).start()
        try:
            buttons = _seed_buttons(rig)
            with _engines(rig, twilio, count=2):
                results = [_one(rig, config, n, buttons, twilio) for n in config.processes]
            return {"benchmark": "scale", "homes": config.homes, "configurations": results}
        finally:
            twilio.stop()
            rig.broker.stop()
            rig.postgres.stop()


def _seed_buttons(rig: Rig) -> dict[str, str]:
    with psycopg.connect(rig.database_url, autocommit=True) as conn:
        seed_buttons(conn, PRESSES * 3)
    broker = rig.broker
    with BrokerAdmin(
        broker.host, broker.port, broker.admin_username, broker.admin_password
    ) as admin:
        return {button_id(i): admin.provision_device(button_id(i)) for i in range(PRESSES * 3)}


def _env(rig: Rig, **extra: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "NUANXIN_DATABASE_URL": rig.database_url,
        "NUANXIN_MQTT_URL": f"mqtt://{rig.broker.host}:{rig.broker.port}",
        "NUANXIN_MQTT_USERNAME": INGEST_USER,
        "NUANXIN_MQTT_PASSWORD": rig.secret,
        "NUANXIN_LOG_LEVEL": "INFO",
        **extra,
    }


@contextmanager
def _engines(rig: Rig, twilio: TwilioServer, count: int) -> Iterator[None]:
    env = _env(
        rig,
        NUANXIN_TWILIO_ACCOUNT_SID=twilio.account_sid,
        NUANXIN_TWILIO_AUTH_TOKEN=twilio.auth_token,
        NUANXIN_TWILIO_FROM_NUMBER="+14155550000",
        NUANXIN_TWILIO_API_BASE_URL=twilio.url,
    )
    engines = [start_nuanxin(["alerting"], env, ready="") for _ in range(count)]
    try:
        yield
    finally:
        for engine in engines:
            engine.terminate()
            engine.wait(60)


def _start_ingest(rig: Rig, n: int) -> list[subprocess.Popen[str]]:
    return [
        start_nuanxin(
            ["ingest"],
            _env(
                rig,
                NUANXIN_INGEST_SHARE_GROUP=f"scale{n}",
                NUANXIN_INGEST_CLIENT_ID=f"scale{n}-{k}",
            ),
            timeout_s=30,
        )
        for k in range(n)
    ]


def _one(
    rig: Rig, config: ScaleBenchConfig, n: int, buttons: dict[str, str], twilio: TwilioServer
) -> dict[str, Any]:
    run_id = f"scale{n}"
    devices = {f"bench-{i:06d}": DeviceType.PIR for i in range(config.homes * 4)}
    endpoint = Endpoint(rig.broker.host, rig.broker.port)
    ingest = _start_ingest(rig, n)
    pressing = list(buttons.items())[(n.bit_length() - 1) * PRESSES :][:PRESSES]
    try:
        with LoadGenerator(
            endpoint, LOAD_USER, rig.secret, devices, run_id=run_id, connections=2
        ) as load:
            presser = threading.Thread(target=_press, args=(endpoint, pressing))
            started = time.time()
            presser.start()
            load.run(config.messages, ack_timeout_s=300)
            presser.join()
            rig.wait_stored(config.messages, f"{run_id}-%")
        time.sleep(3)  # the engines' last pages
    finally:
        for process in ingest:
            process.terminate()
            process.wait(60)
    return _figures(rig, run_id, n, config.messages, started, twilio)


def _press(endpoint: Endpoint, buttons: list[tuple[str, str]]) -> None:
    for device_id, password in buttons:
        button = SimulatedDevice(device_id, DeviceType.EMERGENCY_BUTTON, password, endpoint)
        button.start(heartbeats=False)
        button.press()
        button.stop()
        time.sleep(0.1)


def _figures(
    rig: Rig, run_id: str, n: int, messages: int, started: float, twilio: TwilioServer
) -> dict[str, Any]:
    like = f"{run_id}-%"
    with psycopg.connect(rig.database_url) as conn:
        stored, distinct, last = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, msg_id)),"
            " extract(epoch FROM max(pg_xact_commit_timestamp(xmin)))"
            " FROM readings WHERE msg_id LIKE %s",
            (like,),
        ).fetchone()  # type: ignore[misc]
        violations = conn.execute(
            "SELECT count(*) FROM device_state s JOIN ("
            "  SELECT device_id, max(ts) AS newest FROM readings GROUP BY device_id) r"
            " USING (device_id) WHERE s.last_reading_ts IS DISTINCT FROM r.newest"
        ).fetchone()[0]  # type: ignore[index]
        doubled = conn.execute(
            "SELECT count(*) FROM (SELECT alert_id, level, round, contact_id, channel"
            " FROM notifications GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1) d"
        ).fetchone()[0]  # type: ignore[index]
        sent = conn.execute(
            "SELECT count(*) FROM notifications WHERE channel = 'sms' AND status <> 'cancelled'"
        ).fetchone()[0]  # type: ignore[index]
    return {
        "ingest_processes": n,
        "alert_engines": 2,
        "stored_per_s": round(messages / (float(last) - started)),
        "lost": messages - distinct,
        "duplicated": stored - distinct,
        "ordering_violations": violations,
        "duplicate_notifications": doubled,
        "sms_planned": sent,
        "sms_received_by_twilio": len(twilio.messages()),
    }


def main(config: ScaleBenchConfig) -> int:
    result = run(config)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    bad = [
        c
        for c in result["configurations"]
        if c["lost"] or c["duplicated"] or c["ordering_violations"] or c["duplicate_notifications"]
    ]
    return 1 if bad else 0
