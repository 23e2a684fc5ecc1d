"""`nuanxin demo` run twice and anywhere, as the accidents of issue 16 ran it: a second
demo beside a running one, a demo pointed at somebody's database or at none, a port
already taken. Each refusal is one line naming what is in use and the option that
changes it; the first demo's story completes untouched; nothing of a demo stays on the
broker once it exits."""

import re
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.cli.test_demo import Demo
from tests.cli.test_demo_claims import retained_claim
from tests.support.anonymous_broker import anonymous_broker, session_present
from tests.support.cli import clean_env
from tests.support.servers import PG_ADMIN_URL, database_url, free_port, throwaway_database

# Devices of the demo's world, as they log in: their sessions must not stay either.
DEVICE_CLIENT_IDS = ("wang-emergency-button", "li-smoke", "zhao-pir")


@pytest.fixture
def demo_database() -> Iterator[str]:
    name = f"nuanxin_test_demo_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def demo_env() -> dict[str, str]:
    env = clean_env()
    env.pop("XDG_RUNTIME_DIR", None)  # as on a server or in a container
    return env


def refusal(demo: Demo) -> str:
    """The one line a refused demo prints on its way out (exit code 1)."""
    assert demo.process.wait(60) == 1, demo.output
    deadline = time.monotonic() + 5
    while "error:" not in demo.output and time.monotonic() < deadline:
        time.sleep(0.1)  # the reader thread takes the last lines
    errors = [line for line in demo.lines if line.startswith("nuanxin demo: error:")]
    assert len(errors) == 1, demo.output
    assert "Traceback" not in demo.output, demo.output
    return errors[0]


def test_a_second_demo_never_touches_the_first_and_nothing_stays_on_the_broker(
    tmp_path: Path, demo_database: str
) -> None:
    with anonymous_broker(tmp_path) as mqtt_port:
        common = ("--local-mqtt", f"127.0.0.1:{mqtt_port}", "--data-dir", str(tmp_path / "d"))
        api_port = free_port()
        first = Demo(
            *common, "--database", demo_database, "--api-port", str(api_port), env=demo_env()
        )
        try:
            first.wait_for("▶ 王秀英按下了紧急呼叫按钮", 120)
            # The same database: refused, naming it and --database.
            second = Demo(
                *common, "--database", demo_database, "--api-port", str(free_port()), env=demo_env()
            )
            line = refusal(second)
            assert f"another nuanxin demo is using the database {demo_database}" in line
            assert "--database" in line
            # Another database, the same broker: refused, naming it and --local-mqtt.
            third = Demo(
                *common,
                "--database",
                f"{demo_database}_b",
                "--api-port",
                str(free_port()),
                env=demo_env(),
            )
            line = refusal(third)
            assert f"MQTT broker at 127.0.0.1:{mqtt_port} is in use by another nuanxin demo" in line
            assert "--local-mqtt" in line
            # The same API port: refused before anything else happens.
            fourth = Demo(
                *common,
                "--database",
                f"{demo_database}_c",
                "--api-port",
                str(api_port),
                env=demo_env(),
            )
            line = refusal(fourth)
            assert f"port {api_port} on 127.0.0.1 is in use" in line and "--api-port" in line
            assert "finding servers" not in fourth.output
            first.wait_for("the story is over", 240)
        finally:
            code = first.interrupt()
        assert code == 0, first.output
        counts = first.summary()
        for rule in ("emergency_call", "gas", "smoke", "inactivity", "device_offline"):
            assert counts.get(f"opened:{rule}", 0) == 1, (rule, counts)
        assert counts["acknowledged:emergency_call"] == 1 and counts["acknowledged:gas"] == 1
        assert counts["resolved:smoke"] == 1
        for trouble in ("server closed the connection", "address already in use", "Traceback"):
            assert trouble not in first.output, first.output
        assert "RuntimeDirWarning" not in first.output
        ingest = f"nuanxin-demo-{first.process.pid}"  # the demo's platform client id
        for client_id in (ingest, *DEVICE_CLIENT_IDS):
            assert not session_present(client_id, mqtt_port), client_id
        assert retained_claim(mqtt_port) is None  # the claim went with the demo
        with psycopg.connect(PG_ADMIN_URL) as admin:
            left = admin.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{demo_database}_%",)
            ).fetchall()
        assert left == []  # the refused ones created nothing


def test_the_story_prints_in_causal_order_on_one_clock(tmp_path: Path, demo_database: str) -> None:
    """Every phone line names its alert and comes after that alert's first line; every
    line of the story carries the one clock."""
    with anonymous_broker(tmp_path) as mqtt_port:
        demo = Demo(
            "--local-mqtt",
            f"127.0.0.1:{mqtt_port}",
            "--database",
            demo_database,
            "--api-port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "d"),
            env=demo_env(),
        )
        try:
            demo.wait_for("● 新警报 #3", 120)
            demo.wait_for("（#3）", 60)
        finally:
            assert demo.interrupt() == 0, demo.output
    story = demo.output.split("The story begins", 1)[1].split("demo summary:", 1)[0]
    opened: set[str] = set()
    for line in story.splitlines()[1:]:
        if not line.strip():
            continue
        assert re.match(r"^\[\s*\d+s\] ", line), line  # one clock, on every line
        if match := re.search(r"● 新警报 #(\d+)", line):
            opened.add(match.group(1))
        if match := re.search(r"(📱|📞) .*（#(\d+)）", line):
            assert match.group(2) in opened, f"{line!r} before its alert:\n{story}"
    assert "{" not in demo.output.split("demo summary:", 1)[1]  # a table, not JSON


def test_a_demo_pointed_at_someones_database_refuses_and_leaves_it_alone() -> None:
    with throwaway_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE districts (name text)")
            conn.execute("INSERT INTO districts VALUES ('东胜区')")
        env = demo_env() | {"NUANXIN_DATABASE_URL": url}
        line = refusal(Demo("--api-port", str(free_port()), env=env))
        assert "not marked as a demo database" in line, line
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT name FROM districts").fetchall() == [("东胜区",)]


def test_a_demo_pointed_at_a_missing_database_says_how_to_create_it() -> None:
    name = f"nuanxin_test_absent_{uuid.uuid4().hex[:8]}"
    env = demo_env() | {"NUANXIN_DATABASE_URL": database_url(PG_ADMIN_URL, name)}
    line = refusal(Demo("--api-port", str(free_port()), env=env))
    assert f"{name} on 127.0.0.1:5432 does not exist: create it (createdb {name}" in line, line


def test_a_port_in_use_is_named_before_anything_happens(demo_database: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        demo = Demo("--database", demo_database, "--api-port", str(port), env=demo_env())
        line = refusal(demo)
    assert line.strip() == (
        f"nuanxin demo: error: port {port} on 127.0.0.1 is in use (Address already in use), "
        "perhaps by another demo: pass --api-port with a free port"
    )
    with psycopg.connect(PG_ADMIN_URL) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (demo_database,))
        assert exists.fetchone() is None  # nothing was touched
