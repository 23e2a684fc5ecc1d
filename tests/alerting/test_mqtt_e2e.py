"""Every rule from simulator traffic over the real broker: device → Mosquitto (project
configuration) → ingest → outbox → alert engine → the local Twilio server."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from alerting import timers
from cli.ingest import ingest_config
from core.settings import Settings
from core.types import DeviceType
from device_registry.provisioning import BrokerAdmin
from ingest.service import IngestService
from simulators.devices import SimulatedDevice
from simulators.mqtt import Endpoint
from tests.support.alerting_stack import WORKER, AlertingStack, alerting_stack
from tests.support.broker import BrokerInfo, project_broker


@dataclass
class Wired:
    stack: AlertingStack
    devices: dict[str, SimulatedDevice]


@pytest.fixture
def wired(tmp_path: Path) -> Iterator[Wired]:
    with project_broker(tmp_path) as broker, alerting_stack() as stack:
        stack.clock.now = datetime.now(UTC)
        with BrokerAdmin(
            broker.host, broker.port, broker.admin_username, broker.admin_password
        ) as admin:
            admin.ensure_platform_account("nuanxin-ingest", "ingest-secret-0123456789")
            passwords = {
                d: admin.provision_device(d) for d in ("btn-1", "smoke-1", "gas-1", "pir-1")
            }
        ingest = _ingest(stack, broker)
        endpoint = Endpoint(broker.host, broker.port)
        types = {
            "btn-1": DeviceType.EMERGENCY_BUTTON,
            "smoke-1": DeviceType.SMOKE,
            "gas-1": DeviceType.GAS,
            "pir-1": DeviceType.PIR,
        }
        devices = {d: SimulatedDevice(d, types[d], p, endpoint) for d, p in passwords.items()}
        for device in devices.values():
            device.start(heartbeats=False)
        try:
            yield Wired(stack, devices)
        finally:
            for device in devices.values():
                device.stop()
            ingest.stop()


def _ingest(stack: AlertingStack, broker: BrokerInfo) -> IngestService:
    settings = Settings(
        database_url=stack.database_url,
        mqtt_url=f"mqtt://{broker.host}:{broker.port}",
        mqtt_username="nuanxin-ingest",
        mqtt_password="ingest-secret-0123456789",
    )
    ingest = IngestService(ingest_config(settings), on_signals=stack.service.wake)
    ingest.start()
    assert ingest.subscriber.subscribed.wait(10)
    return ingest


def settle(
    wired: Wired, rule: str, timer: Callable[..., object] | None = None, timeout_s: float = 10
) -> dict[str, object]:
    """Run the engine (and a timer rule) until an alert of this rule exists: messages take
    a moment to cross the broker and ingest."""
    deadline = datetime.now(UTC) + timedelta(seconds=timeout_s)
    while datetime.now(UTC) < deadline:
        if timer is not None:
            timer(wired.stack.service.engine)
        wired.stack.run()
        found = [a for a in wired.stack.alerts() if a["rule"] == rule]
        if found:
            return found[0]
    raise AssertionError(f"no {rule} alert; alerts: {wired.stack.alerts()}")


def lel_under_the_detectors_own_alarm(wired: Wired) -> None:
    """The detector alarms at 10 % LEL; this elder's threshold is 5 %: 6 % must page."""
    with psycopg.connect(wired.stack.database_url, autocommit=True) as conn:
        conn.execute("UPDATE elders SET rule_settings = '{\"gas_lel_threshold\": 5}'")
    wired.devices["gas-1"].gas_leak(6.0)


TRIGGERS = [
    pytest.param(
        lambda w: w.devices["btn-1"].press(), "emergency_call", "btn-1", "紧急呼叫", id="button"
    ),
    pytest.param(
        lambda w: w.devices["smoke-1"].smoke(True), "smoke", "smoke-1", "烟雾报警", id="smoke"
    ),
    pytest.param(
        lambda w: w.devices["gas-1"].gas_leak(25.0), "gas", "gas-1", "燃气报警", id="gas-flag"
    ),
    pytest.param(lel_under_the_detectors_own_alarm, "gas", "gas-1", "燃气报警", id="gas-lel"),
    pytest.param(
        lambda w: w.devices["pir-1"].low_battery(),
        "low_battery",
        "pir-1",
        "电量低",
        id="low-battery",
    ),
    pytest.param(lambda w: w.devices["smoke-1"].tamper(), "tamper", "smoke-1", "拆动", id="tamper"),
]


@pytest.mark.parametrize(("act", "rule", "device", "wording"), TRIGGERS)
def test_rule_fires_from_simulator_traffic(
    wired: Wired, act: Callable[[Wired], object], rule: str, device: str, wording: str
) -> None:
    act(wired)
    alert = settle(wired, rule)
    assert alert["device_id"] == device
    [sms] = [s for s in wired.stack.sms_to(WORKER) if wording in s]
    assert "王秀英" in sms and "富兴南路12号" in sms


def test_inactivity_and_offline_from_simulator_traffic(wired: Wired) -> None:
    with psycopg.connect(wired.stack.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE districts SET rule_settings ="
            ' \'{"inactivity_hours": 0.01, "offline_heartbeats": 1}\''
        )
    pir, button = wired.devices["pir-1"], wired.devices["btn-1"]
    pir.motion()
    for device in ("smoke-1", "gas-1"):
        wired.devices[device].heartbeat()
    button.heartbeat()
    wired.stack.run()
    wired.stack.clock.advance(seconds=40)  # 36 s without motion is "inactive" here
    pir.heartbeat()  # alive, but nobody moves
    assert settle(wired, "inactivity", timers.check_inactivity)["status"] == "notified"

    button.drop()  # the button loses power
    wired.stack.clock.advance(minutes=11)  # a 10-minute heartbeat missed (one is enough here)
    for device in ("smoke-1", "gas-1", "pir-1"):
        wired.devices[device].heartbeat()
    offline = settle(wired, "device_offline", timers.check_offline)
    assert offline["device_id"] == "btn-1"
