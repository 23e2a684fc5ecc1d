"""The README's "First setup from the command line", run line by line as written, on a
PostgreSQL server without the database and a broker with the project's configuration:
if the README and the CLI disagree, this fails. Then the API it starts shows the elder
with their contact and device, and documents the alert states a newcomer needs."""

import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.support.broker import BrokerInfo
from tests.support.cli import NUANXIN, clean_env, run_nuanxin
from tests.support.servers import PG_ADMIN_URL, REPO_ROOT, database_url, free_port

PASSWORD = "violet kettle marches under nine lanterns"  # what the terminal would be given


def readme_first_setup() -> list[list[str]]:
    """The commands of the README's first-setup block, comments removed."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("First setup from the command line", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [shlex.split(line, comments=True) for line in block.splitlines()]
    commands = [command for command in commands if command]
    for command in commands:
        assert command[0] == "nuanxin", f"not a nuanxin command: {command}"
    return commands


@pytest.fixture
def missing_database() -> Iterator[str]:
    """The URL of a database that does not exist yet; dropped afterwards."""
    name = f"nuanxin_test_setup_{uuid.uuid4().hex[:10]}"
    yield database_url(PG_ADMIN_URL, name)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_readme_first_setup_runs_as_written(missing_database: str, broker: BrokerInfo) -> None:
    api_port = free_port()
    env = clean_env(
        NUANXIN_DATABASE_URL=missing_database,
        NUANXIN_MQTT_URL=f"mqtt://{broker.host}:{broker.port}",
        NUANXIN_MQTT_ADMIN_USERNAME=broker.admin_username,
        NUANXIN_MQTT_ADMIN_PASSWORD=broker.admin_password,
        NUANXIN_MQTT_PASSWORD="platform-" + uuid.uuid4().hex,
        NUANXIN_API_PORT=str(api_port),
    )
    *steps, serve = readme_first_setup()
    for command in steps:
        done = subprocess.run(
            [NUANXIN, *command[1:]],
            input=PASSWORD + "\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
    assert serve[:2] == ["nuanxin", "api"], serve
    api = subprocess.Popen(
        [NUANXIN, *serve[1:]], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        base = f"http://127.0.0.1:{api_port}"
        _wait_healthy(base, api)
        _the_elder_is_set_up(base)
        _alert_states_are_documented(base)
    finally:
        api.terminate()
        api.wait(30)


def _wait_healthy(base: str, api: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert api.poll() is None, api.stderr.read() if api.stderr else ""
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError("the API never answered /healthz")


def _the_elder_is_set_up(base: str) -> None:
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}, timeout=10
    )
    assert token.status_code == 200, token.text
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    ) as api:
        elders = api.get("/api/v1/elders").json()
        assert [e["name"] for e in elders] == ["王秀英"], elders
        elder_id = elders[0]["id"]
        devices = api.get("/api/v1/devices", params={"elder_id": elder_id}).json()
        assert [d["device_id"] for d in devices] == ["wang-button"], devices
        contacts = api.get("/api/v1/contacts").json()
        kinds = sorted((c["kind"], c["name"]) for c in contacts)
        assert kinds == [("community_worker", "刘网格员"), ("family", "王丽")], contacts


def _alert_states_are_documented(base: str) -> None:
    spec = httpx.get(f"{base}/openapi.json", timeout=10).json()
    listing = spec["paths"]["/api/v1/alerts"]["get"]
    status = next(p for p in listing["parameters"] if p["name"] == "status")
    text = listing["description"] + status["description"]
    for word in ("status=active", "open", "notified", "acknowledged", "on_site", "resolved"):
        assert word in text, (word, text)


def test_commands_on_a_missing_database_say_how_to_create_it(missing_database: str) -> None:
    name = missing_database.rsplit("/", 1)[1]
    env = clean_env(NUANXIN_DATABASE_URL=missing_database, NUANXIN_MQTT_URL="mqtt://127.0.0.1:1")
    for command in (
        ["migrate"],
        ["serve"],
        ["elders", "add", "x", "--district", "d", "--community", "c", "--address", "somewhere"],
    ):
        done = run_nuanxin(*command, env=env)
        assert done.returncode == 1, (command, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"the database {name} does not exist on 127.0.0.1:5432" in lines[0], lines
        assert "nuanxin migrate --create-database" in lines[0] and f"createdb {name}" in lines[0]
