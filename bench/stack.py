"""The nuanxin processes a benchmark runs against its rig (`bench.ingest._rig`: embedded
PostgreSQL and the project's Mosquitto) — ingest on a shared subscription, alert engines
sending to the local Twilio server — and the emergency buttons it presses.

Each process is `nuanxin …` in a process of its own, as in production, so the publisher
and the Twilio server of the benchmark do not compete with it for one GIL.
"""

import contextlib
import subprocess
import time
from collections.abc import Iterator

import psycopg

from bench.ingest import INGEST_USER, Rig
from bench.process import start_nuanxin
from bench.seed import button_id, seed_buttons
from core.types import DeviceType
from device_registry.provisioning import BrokerAdmin
from simulators.devices import SimulatedDevice
from simulators.mqtt import Endpoint, SimulatorError
from simulators.twilio_server import TwilioServer

FROM_NUMBER = "+14155550000"


def env(rig: Rig, **extra: str) -> dict[str, str]:
    """A nuanxin process's environment on this rig, and nothing of ours."""
    return {
        "PATH": "/usr/bin:/bin",
        "NUANXIN_DATABASE_URL": rig.database_url,
        "NUANXIN_MQTT_URL": f"mqtt://{rig.broker.host}:{rig.broker.port}",
        "NUANXIN_MQTT_USERNAME": INGEST_USER,
        "NUANXIN_MQTT_PASSWORD": rig.secret,
        "NUANXIN_LOG_LEVEL": "INFO",  # start_nuanxin waits for an INFO line
        **extra,
    }


def start_ingest(rig: Rig, group: str, username: str) -> subprocess.Popen[str]:
    """`nuanxin ingest` in share group `group` as platform account `username` (created
    here; it is the process's client id too), returned once it is subscribed."""
    broker = rig.broker
    with BrokerAdmin(
        broker.host, broker.port, broker.admin_username, broker.admin_password
    ) as admin:
        admin.ensure_platform_account(username, rig.secret)
    settings = {"NUANXIN_INGEST_SHARE_GROUP": group, "NUANXIN_MQTT_USERNAME": username}
    return start_nuanxin(["ingest"], env(rig, **settings), timeout_s=30)


def start_engine(rig: Rig, twilio: TwilioServer) -> subprocess.Popen[str]:
    """`nuanxin alerting`, its SMS and calls going to `twilio`."""
    settings = {
        "NUANXIN_TWILIO_ACCOUNT_SID": twilio.account_sid,
        "NUANXIN_TWILIO_AUTH_TOKEN": twilio.auth_token,
        "NUANXIN_TWILIO_FROM_NUMBER": FROM_NUMBER,
        "NUANXIN_TWILIO_API_BASE_URL": twilio.url,
    }
    return start_nuanxin(["alerting"], env(rig, **settings), ready="")


@contextlib.contextmanager
def engines(rig: Rig, twilio: TwilioServer, count: int) -> Iterator[list[subprocess.Popen[str]]]:
    started = [start_engine(rig, twilio) for _ in range(count)]
    try:
        yield started
    finally:
        for engine in started:
            stop(engine)


def stop(process: subprocess.Popen[str], timeout_s: float = 60) -> None:
    """SIGTERM (it finishes what it holds), then wait; SIGKILL if it will not end, so
    that a benchmark always gets to stop its servers."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def provision_buttons(rig: Rig, count: int) -> dict[str, str]:
    """`count` elders with a commissioned button each (`bench.seed`), and the buttons'
    broker accounts: button id → password."""
    with psycopg.connect(rig.database_url, autocommit=True) as conn:
        seed_buttons(conn, count)
    broker = rig.broker
    with BrokerAdmin(
        broker.host, broker.port, broker.admin_username, broker.admin_password
    ) as admin:
        return {button_id(i): admin.provision_device(button_id(i)) for i in range(count)}


def press(endpoint: Endpoint, device_id: str, password: str) -> bool:
    """The button connects, is pressed and disconnects; True once the broker
    acknowledged the press with Success. False if the broker could not be reached, did
    not acknowledge it, or answered "No matching subscribers" (after a restart, before
    ingest subscribed again): a press the device contract says to send again."""
    button = SimulatedDevice(device_id, DeviceType.EMERGENCY_BUTTON, password, endpoint)
    try:
        button.start(heartbeats=False)
        sent = button.press()
        button.wait_acked()
        return not any(message in button.unrouted() for message in sent)
    except SimulatorError:
        return False
    finally:
        with contextlib.suppress(SimulatorError):  # a broker going away meanwhile
            button.stop()


def press_all(endpoint: Endpoint, pressing: list[tuple[str, str]], pause_s: float = 0.1) -> None:
    """Each button once, one after another."""
    for device_id, password in pressing:
        press(endpoint, device_id, password)
        time.sleep(pause_s)
