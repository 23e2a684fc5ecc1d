"""Zigbee models as installed, end to end: a gateway publishes what the real converter
publishes → Mosquitto (project configuration) → ingest (the device's catalogue model from
the database) → outbox → alert engine and its timers.

- A Heiman HS1CG-E alarm goes through the external converter we ship (run in Node, as
  Zigbee2MQTT runs it) and opens a gas alert; stock Zigbee2MQTT would publish gas: false.
- A Heiman HS1EB pressed twice, on a gateway without last_seen: the two messages are the
  same bytes, and the second press still reaches the engine as a repeat.
- A Tuya ZG-204ZM that says `presence: true` keeps its elder active: no inactivity alert
  while someone is there, one when nobody has been for the configured time.
"""

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from alerting import timers
from cli.ingest import ingest_config
from core.settings import Settings
from device_registry.provisioning import BrokerAdmin
from ingest.service import IngestService
from simulators.accounts import gateway_account
from tests.support.alerting_stack import AlertingStack, alerting_stack
from tests.support.broker import project_broker
from tests.support.publisher import Publisher

REPO = Path(__file__).parents[2]
CONVERTER = REPO / "deploy" / "zigbee2mqtt" / "heiman-hs1cg-e.js"
RUNNER = REPO / "tests" / "deploy" / "z2m_converter.mjs"
INGEST_PASSWORD = "ingest-secret-0123456789"
GATEWAY_PASSWORD = "gateway-secret-0123456789"
GAS_NAME, PIR_NAME = "王奶奶家/厨房燃气", "王奶奶家/卧室雷达"
BUTTON_NAME = "王奶奶家/床头按钮"

ALARM2 = 1 << 1
SUPERVISION_REPORTS = 1 << 5  # set in every report of the detectors in the issues


def run_converter(*zone_statuses: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The definition's summary and what its converter publishes for each zone status."""
    node = shutil.which("node")
    assert node is not None, "Node 20 runs the Zigbee2MQTT converter test"
    done = subprocess.run(
        [node, str(RUNNER), str(CONVERTER), *map(str, zone_statuses)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    summary, *published = (json.loads(line) for line in done.stdout.splitlines())
    return summary, [item["published"] for item in published]


@dataclass
class Home:
    stack: AlertingStack
    gateway: Publisher

    def publish(self, name: str, state: dict[str, Any], *, last_seen: bool = True) -> None:
        """As Zigbee2MQTT does: the whole state, keys sorted, with linkquality and (when
        the gateway has it enabled) last_seen, here the engine's clock."""
        seen = {"last_seen": self.stack.clock().isoformat()} if last_seen else {}
        body = {**state, "linkquality": 96, **seen}
        payload = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        self.gateway.publish_all([(f"zigbee2mqtt/{name}", payload.encode())])

    def scalar(self, sql: str, *params: Any) -> Any:
        with psycopg.connect(self.stack.database_url, autocommit=True) as conn:
            row = conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def wait_for(self, sql: str, expected: Any, *params: Any, timeout_s: float = 15) -> None:
        deadline = datetime.now(UTC) + timedelta(seconds=timeout_s)
        while datetime.now(UTC) < deadline:
            if self.scalar(sql, *params) == expected:
                return
            self.stack.run()
        raise AssertionError(f"{sql} never gave {expected!r}; last {self.scalar(sql, *params)!r}")

    def alerts(self, rule: str) -> list[dict[str, Any]]:
        return [alert for alert in self.stack.alerts() if alert["rule"] == rule]


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    with project_broker(tmp_path) as broker, alerting_stack() as stack:
        stack.clock.now = datetime.now(UTC)
        with BrokerAdmin(
            broker.host, broker.port, broker.admin_username, broker.admin_password
        ) as admin:
            admin.ensure_platform_account("nuanxin-ingest", INGEST_PASSWORD)
            gateway_account(admin, "gateway-1", GATEWAY_PASSWORD)
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE devices SET zigbee_name = %s, model = 'HS1CG-E',"
                " mitigations = '{z2m-external-converter-gas-bit1}' WHERE device_id = 'gas-1'",
                (GAS_NAME,),
            )
            conn.execute(
                "UPDATE devices SET zigbee_name = %s, model = 'ZG-204ZM' WHERE device_id = 'pir-1'",
                (PIR_NAME,),
            )
            conn.execute(
                "UPDATE devices SET zigbee_name = %s, model = 'HS1EB' WHERE device_id = 'btn-1'",
                (BUTTON_NAME,),
            )
        settings = Settings(
            database_url=stack.database_url,
            mqtt_url=f"mqtt://{broker.host}:{broker.port}",
            mqtt_username="nuanxin-ingest",
            mqtt_password=INGEST_PASSWORD,
        )
        ingest = IngestService(ingest_config(settings), on_signals=stack.service.wake)
        ingest.start()
        assert ingest.subscriber.subscribed.wait(10)
        gateway = Publisher(broker, "gateway-1", GATEWAY_PASSWORD)
        try:
            yield Home(stack, gateway)
        finally:
            gateway.close()
            ingest.stop()


def test_the_shipped_converter_reads_bit_1() -> None:
    summary, published = run_converter(
        0, SUPERVISION_REPORTS, ALARM2, ALARM2 | SUPERVISION_REPORTS, 1 << 2, 1 << 3
    )
    assert summary["model"] == "HS1CG-E" and "GASSensor-EM" in summary["zigbeeModel"]
    assert summary["exposes"] == ["gas", "battery_low", "tamper"]
    assert [p["gas"] for p in published] == [False, False, True, True, False, False]
    assert [p["tamper"] for p in published] == [False, False, False, False, True, False]
    assert [p["battery_low"] for p in published] == [False] * 5 + [True]


def test_an_hs1cg_e_alarm_through_the_shipped_converter_opens_a_gas_alert(home: Home) -> None:
    """Zone status 34 is what an HS1CG-E reports during an alarm (Koenkk/zigbee2mqtt#9318);
    stock Zigbee2MQTT turned it into gas: false."""
    _, (idle, alarm) = run_converter(SUPERVISION_REPORTS, ALARM2 | SUPERVISION_REPORTS)
    home.publish(GAS_NAME, idle)
    home.wait_for("SELECT count(*) FROM readings WHERE device_id = 'gas-1'", 1)
    home.stack.run()
    assert home.alerts("gas") == []

    home.publish(GAS_NAME, alarm)
    home.wait_for("SELECT count(*) FROM alerts WHERE rule = 'gas'", 1)
    [gas] = home.alerts("gas")
    assert gas["device_id"] == "gas-1"
    assert home.scalar("SELECT count(*) FROM quarantine") == 0


def test_a_second_identical_press_reaches_the_engine(home: Home) -> None:
    """Without last_seen (the gateway's default) two presses are the same bytes. The
    second once got the first one's ts and msg_id, and ON CONFLICT dropped its event:
    an elder pressing again got no repeat (safety invariant 7)."""
    press = {"action": "single", "battery": 100, "voltage": 3000}
    home.publish(BUTTON_NAME, press, last_seen=False)
    home.wait_for("SELECT count(*) FROM alerts WHERE rule = 'emergency_call'", 1)
    time.sleep(1.0)  # a second press a moment later; any gap inside the minute did it
    home.publish(BUTTON_NAME, press, last_seen=False)
    presses = "SELECT count(*) FROM events WHERE device_id = 'btn-1' AND event = 'button_press'"
    home.wait_for(presses, 2)
    home.wait_for("SELECT trigger_count FROM alerts WHERE rule = 'emergency_call'", 2)
    [button] = home.alerts("emergency_call")
    repeated = "SELECT count(*) FROM alert_timeline WHERE alert_id = %s AND kind = 'repeated'"
    assert home.scalar(repeated, button["id"]) == 1
    assert home.scalar("SELECT count(*) FROM quarantine") == 0


def test_a_zg_204zm_presence_keeps_its_elder_active(home: Home) -> None:
    """The elder's only motion sensor is a ZG-204ZM; inactivity here is 36 s."""
    with psycopg.connect(home.stack.database_url, autocommit=True) as conn:
        conn.execute("UPDATE districts SET rule_settings = '{\"inactivity_hours\": 0.01}'")
    last_motion = "SELECT last_motion_at FROM device_state WHERE device_id = 'pir-1'"
    radar = {"battery": 100, "fading_time": 30, "illuminance": 12, "motion_state": "static"}

    for _ in range(3):  # someone sits still in front of it for two minutes
        home.publish(PIR_NAME, {**radar, "presence": True})
        home.wait_for(last_motion, home.stack.clock())
        timers.check_inactivity(home.stack.service.engine)
        home.stack.run()
        assert home.alerts("inactivity") == []
        home.stack.clock.advance(seconds=30)

    home.publish(PIR_NAME, {**radar, "motion_state": "none", "presence": False})
    home.wait_for("SELECT count(*) FROM readings WHERE device_id = 'pir-1'", 4)
    home.stack.clock.advance(seconds=40)  # and then nobody, for longer than 36 s
    assert timers.check_inactivity(home.stack.service.engine) == 1
    assert home.scalar("SELECT count(*) FROM quarantine") == 0
