"""`nuanxin bench alerts`: emergency buttons pressed over MQTT while background readings
flow at 1,000/s, through ingest and the alert engine to the local Twilio server.

Figures, as JSON:
- press_to_sms_ms: from a button's publish to the Twilio server receiving the first SMS
  request for that alert, p50/p99/max;
- escalation_error_ms: when each alert climbed to its second level, minus when it was
  due (the first level's timeout after the first page), p50/p99/max;
- the counts: presses, alerts, first SMS received, readings stored in the background.
"""

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench.process import percentile, start_nuanxin
from bench.seed import button_id, elder_name, seed_buttons
from core.types import DeviceType
from device_registry.provisioning import BrokerAdmin
from embedded.account import server_workdir
from embedded.mosquitto import free_port, start_broker
from embedded.postgres import EmbeddedPostgres
from migrations import PACKAGED_DIR
from migrations.runner import discover, migrate
from simulators.accounts import load_account
from simulators.devices import SimulatedDevice
from simulators.load import LoadGenerator
from simulators.mqtt import Endpoint
from simulators.twilio_server import ApiRequest, TwilioServer

FIRST_LEVEL_S = 30
SECRET = "bench-alerts-" + "y" * 20


@dataclass(frozen=True)
class AlertsBenchConfig:
    presses: int = 40
    press_interval_s: float = 0.5
    background_rate: int = 1_000
    background_devices: int = 500


def run(config: AlertsBenchConfig) -> dict[str, Any]:
    with server_workdir("nuanxin-bench-alerts-") as tmp:
        workdir = Path(tmp)
        postgres = EmbeddedPostgres(workdir / "postgres", free_port())
        postgres.start()
        broker = start_broker(workdir / "broker")
        twilio = TwilioServer(callback_delay_ms=None).start()
        try:
            return _measure(config, postgres.url, broker, twilio)
        finally:
            twilio.stop()
            broker.stop()
            postgres.stop()


def _seed(url: str, config: AlertsBenchConfig) -> None:
    levels = [
        {
            "targets": [{"role": "community_worker"}],
            "channels": ["sms"],
            "timeout_s": FIRST_LEVEL_S,
        },
        {"targets": [{"role": "family"}], "channels": ["sms"], "timeout_s": 600},
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, discover(PACKAGED_DIR))
        district_id = seed_buttons(conn, config.presses)
        conn.execute(
            "INSERT INTO escalation_policies (name, severity, district_id, levels)"
            " VALUES ('bench', 'critical', %s, %s)",
            (district_id, Jsonb(levels)),
        )
        with (
            conn.cursor() as cur,
            cur.copy("COPY devices (device_id, device_type, state) FROM STDIN") as copy,
        ):
            for i in range(config.background_devices):
                copy.write_row((f"pir-{i:04d}", "pir", "registered"))


def _measure(
    config: AlertsBenchConfig, url: str, broker: Any, twilio: TwilioServer
) -> dict[str, Any]:
    _seed(url, config)
    with BrokerAdmin(
        broker.host, broker.port, broker.admin_username, broker.admin_password
    ) as admin:
        admin.ensure_platform_account("nuanxin-bench-ingest", SECRET)
        load_account(admin, "nuanxin-bench-load", SECRET)
        passwords = {
            button_id(i): admin.provision_device(button_id(i)) for i in range(config.presses)
        }
    # The system runs as in production, `nuanxin serve` in a process of its own, so the
    # publisher and the Twilio test server here do not compete with it for one GIL.
    serve = start_serve(url, broker, twilio, "nuanxin-bench-ingest", SECRET, free_port())
    endpoint = Endpoint(broker.host, broker.port)
    try:
        pressed = _press(config, endpoint, passwords, twilio)
        time.sleep(FIRST_LEVEL_S + 5)  # every alert climbs once
        return _figures(config, url, twilio, pressed)
    finally:
        serve.terminate()
        serve.wait(60)


def start_serve(
    url: str, broker: Any, twilio: TwilioServer, username: str, password: str, api_port: int
) -> subprocess.Popen[str]:
    """`nuanxin serve` in a process of its own, its SMS and calls going to `twilio`, its API
    on `api_port` — also the base URL Twilio's callbacks are signed for."""
    env = {
        "PATH": "/usr/bin:/bin",
        "NUANXIN_DATABASE_URL": url,
        "NUANXIN_MQTT_URL": f"mqtt://{broker.host}:{broker.port}",
        "NUANXIN_MQTT_USERNAME": username,
        "NUANXIN_MQTT_PASSWORD": password,
        "NUANXIN_API_PORT": str(api_port),
        "NUANXIN_PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
        "NUANXIN_TWILIO_ACCOUNT_SID": twilio.account_sid,
        "NUANXIN_TWILIO_AUTH_TOKEN": twilio.auth_token,
        "NUANXIN_TWILIO_FROM_NUMBER": "+14155550000",
        "NUANXIN_TWILIO_API_BASE_URL": twilio.url,
    }
    return start_nuanxin(["serve"], env)


def _press(
    config: AlertsBenchConfig,
    endpoint: Endpoint,
    passwords: dict[str, str],
    twilio: TwilioServer,
) -> dict[str, float]:
    background = {f"pir-{i:04d}": DeviceType.PIR for i in range(config.background_devices)}
    load = LoadGenerator(endpoint, "nuanxin-bench-load", SECRET, background, run_id="bg")
    load.connect()
    duration = config.presses * config.press_interval_s + 5
    flowing = threading.Thread(
        target=load.run,
        args=(int(config.background_rate * duration),),
        kwargs={"rate": config.background_rate, "ack_timeout_s": 120},
    )
    flowing.start()
    buttons = [
        SimulatedDevice(d, DeviceType.EMERGENCY_BUTTON, p, endpoint) for d, p in passwords.items()
    ]
    for button in buttons:
        button.start(heartbeats=False)
    pressed: dict[str, float] = {}
    time.sleep(1)
    for button in buttons:
        pressed[button.device_id] = time.time()
        button.press()
        time.sleep(config.press_interval_s)
    flowing.join()
    load.close()
    for button in buttons:
        button.stop()
    return pressed


def _figures(
    config: AlertsBenchConfig, url: str, twilio: TwilioServer, pressed: dict[str, float]
) -> dict[str, Any]:
    presses = list(pressed.items())
    first_sms = first_sms_after(presses, twilio.messages())
    latency = [(at - presses[k][1]) * 1000 for k, at in first_sms.items()]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT n.at, e.at FROM alert_timeline n JOIN alert_timeline e"
            " ON e.alert_id = n.alert_id AND e.kind = 'escalated'"
            " WHERE n.kind = 'notified'"
        ).fetchall()
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()[0]  # type: ignore[index]
        alerts = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]  # type: ignore[index]
    errors = [((esc - notified).total_seconds() - FIRST_LEVEL_S) * 1000 for notified, esc in rows]
    return {
        "benchmark": "alerts",
        "presses": len(pressed),
        "alerts": alerts,
        "first_sms_received": len(first_sms),
        "background_readings_stored": stored,
        "background_rate_per_s": config.background_rate,
        "press_to_sms_ms": _stats(latency),
        "escalation_error_ms": _stats(errors),
    }


def first_sms_after(
    presses: Sequence[tuple[str, float]], messages: Sequence[ApiRequest]
) -> dict[int, float]:
    """When the first SMS for each press arrived: press k (button id, epoch time) gets the
    first message, oldest first, that names its elder, arrived at or after it, and is not
    already another press's. A button may be pressed again once its alert is closed."""
    waiting: dict[str, list[int]] = {}
    for k, (device_id, _) in enumerate(presses):
        waiting.setdefault(elder_name(int(device_id.removeprefix("btn-"))), []).append(k)
    first: dict[int, float] = {}
    for message in messages:
        for elder in _named(message.form.get("Body", ""), waiting):
            due = [k for k in waiting[elder] if presses[k][1] <= message.at]
            if due:
                first[due[0]] = message.at
                waiting[elder].remove(due[0])
    return first


def _named(body: str, elders: Iterable[str]) -> list[str]:
    # 老人005 must not match 老人0050's SMS: a name counts only where no digit follows it.
    return [e for e in elders if re.search(re.escape(e) + r"(?!\d)", body)]


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    return {
        "p50": round(percentile(values, 0.5), 1),
        "p99": round(percentile(values, 0.99), 1),
        "max": round(max(values), 1),
    }


def main(config: AlertsBenchConfig) -> int:
    result = run(config)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    ok = result["first_sms_received"] == result["presses"] == result["alerts"]
    return 0 if ok else 1
