"""`nuanxin serve` at DEBUG, driven through a flow full of personal data and secrets — an
elder with an ID card, contacts with phone numbers, a sign-in with a password, the live
stream with its token in the URL, a button press that sends an SMS through the local
Twilio and posts to a chat robot with its key in the URL — and none of them in anything
the process wrote: its logs go through core.logging's RedactingFilter."""

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest

from core.types import DeviceType
from device_registry import users
from device_registry.access import system_actor
from device_registry.provisioning import BrokerAdmin
from device_registry.schemas import UserCreate
from simulators.devices import SimulatedDevice
from simulators.mqtt import Endpoint
from simulators.twilio_server import TwilioServer
from tests.alerting.peers import HttpPeer
from tests.support.api_sse import SseStream
from tests.support.broker import BrokerInfo, project_broker
from tests.support.cli import clean_env, start_nuanxin
from tests.support.databases import migrated_database
from tests.support.ingest_stack import INGEST_PASSWORD, INGEST_USER
from tests.support.servers import free_port

T = TypeVar("T")

ADMIN, ADMIN_PASSWORD = "log-admin", "log-test: correct horse battery staple"
ID_CARD = "150602194503120021"
WORKER_PHONE = "13912345678"  # typed as people type it; stored as +8613912345678
FAMILY_PHONE = "+14155550123"
ROBOT_KEY = "robot-key-5f1c9e07d2"
BUTTON = "btn-logs-1"


@dataclass
class Serve:
    """`nuanxin serve` in its own process; everything it writes is kept."""

    process: subprocess.Popen[str]
    base: str
    lines: list[str] = field(default_factory=list)

    def drain(self) -> None:
        for stream in (self.process.stdout, self.process.stderr):
            assert stream is not None
            threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(60)
        time.sleep(0.2)  # the readers take the last lines from the pipes
        return self.output


def wait_for(found: Callable[[], T | None], what: str, timeout_s: float = 60) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerInfo]:
    with project_broker(tmp_path) as broker:
        with BrokerAdmin(
            broker.host, broker.port, broker.admin_username, broker.admin_password
        ) as admin:
            admin.ensure_platform_account(INGEST_USER, INGEST_PASSWORD)
        yield broker


@pytest.fixture
def database() -> Iterator[str]:
    with migrated_database() as url:
        with psycopg.connect(url) as conn:
            users.create_user(
                conn,
                system_actor("test-setup"),
                UserCreate(username=ADMIN, password=ADMIN_PASSWORD, role="admin"),
            )
        yield url


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    with TwilioServer() as server:
        yield server


@pytest.fixture
def robot() -> Iterator[HttpPeer]:
    peer = HttpPeer(200, {"errcode": 0, "errmsg": "ok"})
    yield peer
    peer.stop()


@pytest.fixture
def serve(
    database: str, broker: BrokerInfo, twilio: TwilioServer, robot: HttpPeer
) -> Iterator[Serve]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(
        NUANXIN_DATABASE_URL=database,
        NUANXIN_MQTT_URL=f"mqtt://{broker.host}:{broker.port}",
        NUANXIN_MQTT_USERNAME=INGEST_USER,
        NUANXIN_MQTT_PASSWORD=INGEST_PASSWORD,
        NUANXIN_MQTT_ADMIN_USERNAME=broker.admin_username,
        NUANXIN_MQTT_ADMIN_PASSWORD=broker.admin_password,
        NUANXIN_API_PORT=str(port),
        NUANXIN_PUBLIC_BASE_URL=base,
        NUANXIN_TWILIO_ACCOUNT_SID=twilio.account_sid,
        NUANXIN_TWILIO_AUTH_TOKEN=twilio.auth_token,
        NUANXIN_TWILIO_FROM_NUMBER="+14155550000",
        NUANXIN_TWILIO_API_BASE_URL=twilio.url,
        NUANXIN_WEBHOOK_URLS=json.dumps([f"{robot.url}/cgi-bin/webhook/send?key={ROBOT_KEY}"]),
        NUANXIN_LOG_LEVEL="DEBUG",
    )
    running = Serve(start_nuanxin("serve", env=env), base)
    running.drain()
    try:
        wait_for(lambda: _ready(running), "serve to be ready")
        yield running
    finally:
        output = running.stop()
        print(output[-8000:])  # pytest shows it when the test fails


def _ready(serve: Serve) -> bool:
    assert serve.process.poll() is None, serve.output[-3000:]
    try:
        return httpx.get(f"{serve.base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body)
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer


def sign_in(base: str) -> str:
    response = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": ADMIN, "password": ADMIN_PASSWORD}
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def register_a_home(api: Api, database: str) -> str:
    """District, elder with ID card, worker and family with phones, a policy that texts
    the worker and posts to the robot, a commissioned button; its MQTT password."""
    district = api.post("/districts", {"name": "东胜区"})
    community = api.post(f"/districts/{district['id']}/communities", {"name": "富兴社区"})
    elder = api.post(
        "/elders",
        {
            "community_id": community["id"],
            "name": "王秀英",
            "id_card": ID_CARD,
            "home": {"address": "东胜区富兴南路12号3单元201"},
        },
    )
    assert elder["id_card"] == ID_CARD  # an admin sees it whole: it went in and came out
    api.post(
        "/contacts",
        {
            "kind": "community_worker",
            "name": "刘网格员",
            "phone": WORKER_PHONE,
            "community_id": community["id"],
        },
    )
    api.post(
        "/contacts",
        {"kind": "family", "name": "王丽", "phone": FAMILY_PHONE, "elder_id": elder["id"]},
    )
    level = {"targets": [{"role": "community_worker"}], "channels": ["sms", "webhook"]}
    api.post(
        "/policies",
        {
            "name": "测试",
            "severity": "critical",
            "elder_id": elder["id"],
            "levels": [level | {"timeout_s": 600}],
        },
    )
    device = api.post(
        "/devices",
        {"device_id": BUTTON, "device_type": "emergency_button", "elder_id": elder["id"]},
    )
    with psycopg.connect(database) as conn:
        conn.execute(
            "UPDATE devices SET state = 'commissioned', commissioned_at = now()"
            " WHERE device_id = %s",
            (BUTTON,),
        )
    password: str = device["mqtt"]["password"]
    return password


def test_serve_at_debug_logs_no_phone_id_card_password_token_or_secret(
    serve: Serve, database: str, broker: BrokerInfo, twilio: TwilioServer, robot: HttpPeer
) -> None:
    token = sign_in(serve.base)
    device_password = register_a_home(Api(serve.base, token), database)
    stream_url = f"{serve.base}/api/v1/alerts/stream"
    with (
        SseStream(stream_url, params={"token": token}) as stream,
        SimulatedDevice(
            BUTTON,
            DeviceType.EMERGENCY_BUTTON,
            device_password,
            Endpoint(broker.host, broker.port),
            interval_s=3600,
        ) as button,
    ):
        button.press()
        stream.next("alert", timeout=60)
        wait_for(twilio.messages, "the SMS to the community worker")
        wait_for(robot.requests, "the post to the chat robot")
    assert twilio.messages()[0].form["To"] == "+86" + WORKER_PHONE
    output = serve.stop()

    private = {
        "the worker's phone": WORKER_PHONE,
        "the family's phone": FAMILY_PHONE.removeprefix("+1"),
        "the ID card": ID_CARD,
        "the user's password": ADMIN_PASSWORD,
        "the bearer token": token,
        "the Twilio auth token": twilio.auth_token,
        "the ingest MQTT password": INGEST_PASSWORD,
        "the broker admin password": broker.admin_password,
        "the device's MQTT password": device_password,
        "the chat robot's key": ROBOT_KEY,
    }
    leaked = {what: value for what, value in private.items() if value in output}
    assert not leaked, f"leaked {sorted(leaked)}:\n" + "\n".join(
        line for line in output.splitlines() if any(v in line for v in leaked.values())
    )
    # What was logged, redacted: the stream's access-log line and the robot's request line.
    assert " DEBUG " in output
    assert "GET /api/v1/alerts/stream?token=*** HTTP/1.1" in output
    assert "/cgi-bin/webhook/send?key=***" in output
