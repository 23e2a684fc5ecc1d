"""`nuanxin demo` as a newcomer runs it: the README's first command, with no NUANXIN_*
variables. With the local servers out of reach it starts its own, the story opens,
escalates and acknowledges the expected alerts, and Ctrl-C leaves no process behind."""

import re
import shlex
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psycopg

from cli.demo_watch import RULE_NAMES, SUMMARY_ROWS
from embedded.account import server_workdir
from tests.support.cli import clean_env
from tests.support.servers import PG_ADMIN_URL, REPO_ROOT, free_port


def readme_first_command() -> list[str]:
    """The first command of the README's "Then:" block, exactly as written there."""
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("Then:", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    line = next(line for line in block.splitlines() if line.strip())
    command = shlex.split(line.split("#", 1)[0])
    assert command[-1] == "demo" and command[0].endswith("nuanxin"), command
    return [str(REPO_ROOT / command[0]), *command[1:]]


class Demo:
    def __init__(
        self,
        *args: str,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
        cwd: Path = REPO_ROOT,
    ) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [*(command or readme_first_command()), *args],
            env=clean_env() if env is None else env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.output:
                return
            assert self.process.poll() is None, self.output
            time.sleep(0.5)
        raise AssertionError(f"{text!r} never appeared:\n{self.output}")

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        return self.process.wait(90)

    def summary(self) -> dict[str, int]:
        """The closing summary as counts: `opened` and `opened:<rule>`, `sms`, `call`."""
        return read_summary(self.output)


def read_summary(output: str) -> dict[str, int]:
    assert "demo summary:" in output, output
    rows = output.split("demo summary:", 1)[1].splitlines()[1:]
    kinds = {label: kind for kind, label in SUMMARY_ROWS}
    rules = {name: rule for rule, name in RULE_NAMES.items()}
    counts: dict[str, int] = {}
    for row in rows:
        match = re.match(r"^  (.+?)\s+(\d+)(?:   (.*))?$", row)
        if match is None or match.group(1) not in kinds:
            break
        kind = kinds[match.group(1)]
        counts[kind] = int(match.group(2))
        for part in (match.group(3) or "").split(" · "):
            if part:
                name, number = part.rsplit(" ", 1)
                counts[f"{kind}:{rules[name]}"] = int(number)
    assert set(counts) >= set(kinds.values()), output
    return counts


def leftovers(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def test_demo_on_embedded_servers_plays_the_story_and_leaves_nothing() -> None:
    with server_workdir("nuanxin-test-demo-") as workdir:  # as root, one its servers reach
        _play_the_story_on_embedded_servers(workdir / "demo-data")


def _play_the_story_on_embedded_servers(data_dir: Path) -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens: as if the local servers were off
    demo = Demo(
        "--local-postgres",
        closed,
        "--local-mqtt",
        closed,
        "--data-dir",
        str(data_dir),
        "--api-port",
        str(free_port()),
    )
    try:
        demo.wait_for("PostgreSQL: embedded", 120)
        demo.wait_for("Mosquitto: started with the project configuration", 60)
        for alert in ("设备离线", "长时间无活动"):  # the story's last two alerts
            demo.wait_for(alert, 240)
    finally:
        code = demo.interrupt()
    assert code == 0, demo.output
    counts = demo.summary()
    for rule in ("emergency_call", "gas", "smoke", "inactivity", "device_offline"):
        assert counts.get(f"opened:{rule}", 0) >= 1, (rule, counts)
    assert counts.get("escalated:emergency_call", 0) >= 1
    assert counts.get("acknowledged:emergency_call", 0) >= 1  # the daughter's "收到"
    assert counts.get("acknowledged:gas", 0) >= 1  # the worker's tap in the app
    assert counts.get("cleared:smoke", 0) >= 1 and counts.get("resolved:smoke", 0) >= 1
    assert counts.get("sms", 0) >= 5 and counts.get("call", 0) >= 1
    assert leftovers(str(data_dir)) == [], demo.output


def test_demo_uses_the_local_servers_when_they_answer(tmp_path: Path) -> None:
    database = f"nuanxin_test_demo_{uuid.uuid4().hex[:10]}"  # not another suite's demo's
    demo = Demo(
        "--data-dir",
        str(tmp_path / "demo-data"),
        "--api-port",
        str(free_port()),
        "--database",
        database,
    )
    try:
        demo.wait_for("the local server at 127.0.0.1:5432", 60)
        demo.wait_for("the local broker at 127.0.0.1:1883", 30)
        demo.wait_for("新警报", 60)  # the story runs on them
    finally:
        code = demo.interrupt()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
    assert code == 0, demo.output
    assert "embedded" not in demo.output
