"""`nuanxin bench scale`: 1, 2 and 4 ingest processes on one shared subscription, and two
alert engines, against one database, under readings from thousands of homes with
emergency buttons pressed meanwhile.

Per configuration, as JSON: stored readings/s; lost and duplicated readings (must be 0);
duplicate notifications (must be 0); devices whose derived state is not their newest
reading (per-device ordering violations, must be 0).
"""

import json
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.ingest import LOAD_USER, IngestBenchConfig, Rig, _rig
from bench.stack import engines, press_all, provision_buttons, start_ingest, stop
from core.types import DeviceType
from embedded.account import server_workdir
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
    with server_workdir("nuanxin-bench-scale-") as tmp:
        rig = _rig(Path(tmp), IngestBenchConfig(registered=config.homes * 4))
        twilio = TwilioServer(callback_delay_ms=None).start()
        try:
            passwords = provision_buttons(rig, PRESSES * 3)
            with engines(rig, twilio, count=2):
                results = [_one(rig, config, n, passwords, twilio) for n in config.processes]
            return {"benchmark": "scale", "homes": config.homes, "configurations": results}
        finally:
            twilio.stop()
            rig.broker.stop()
            rig.postgres.stop()


def _start_ingest(rig: Rig, n: int) -> list[subprocess.Popen[str]]:
    return [start_ingest(rig, f"scale{n}", f"nuanxin-scale{n}-{k}") for k in range(n)]


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
            presser = threading.Thread(target=press_all, args=(endpoint, pressing))
            started = time.time()
            presser.start()
            load.run(config.messages, ack_timeout_s=300)
            presser.join()
            rig.wait_stored(config.messages, f"{run_id}-%")
        time.sleep(3)  # the engines' last pages
    finally:
        for process in ingest:
            stop(process)
    return _figures(rig, run_id, n, config.messages, started, twilio)


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
