"""CI's dependency audit (.ci/audit-dependencies, run by .ci/run): where it runs, what it
audits, that a feed it cannot reach fails it rather than letting it pass, and what the
fallback for an index without per-release vulnerability data finds."""

import itertools
import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.servers import REPO_ROOT, free_port

CI = REPO_ROOT / ".ci" / "run"
AUDIT = REPO_ROOT / ".ci" / "audit-dependencies"
AUDIT_NEWEST = REPO_ROOT / ".ci" / "audit_newest.py"


def steps(script: str) -> list[str]:
    return re.findall(r'^step "([^"]+)"', script, flags=re.MULTILINE)


def commands(script: str) -> list[str]:
    return [line for line in script.splitlines() if not line.lstrip().startswith("#")]


def test_dependency_audit_runs_after_lint_on_every_installed_distribution() -> None:
    ci = CI.read_text()
    order = steps(ci)
    assert order.index("lint and types") < order.index("dependency audit") < order.index("tests")
    audit_step = ci.split('step "dependency audit"', 1)[1].split("\nstep ", 1)[0]
    assert ".ci/audit-dependencies" in audit_step
    for before, line in itertools.pairwise(audit_step.splitlines()):
        if "--ignore-vuln" in line and not line.lstrip().startswith("#"):
            assert before.lstrip().startswith("#"), f"say why, just above: {line}"

    audit = AUDIT.read_text()
    assert "pip freeze --all --exclude-editable" in audit  # all but the project itself
    assert "pip-audit --strict" in audit  # an unaudited distribution fails
    assert not any("--ignore-vuln" in line for line in commands(audit))  # ignores: .ci/run
    assert os.access(AUDIT, os.X_OK)

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("pip-audit") for dep in project["optional-dependencies"]["dev"])


def test_dependency_audit_fails_when_the_vulnerability_feed_is_unreachable(
    tmp_path: Path,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there: every request fails
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "all_proxy")}
    env |= {name: closed for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}
    result = subprocess.run(
        [str(AUDIT), "--cache-dir", str(tmp_path / "empty-cache")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0, result.stdout
    assert "No known vulnerabilities found" not in result.stdout


PROJECTS = {  # what a JSON API answers for each project: newest release, its advisories
    "fresh": {"info": {"version": "2.0"}, "vulnerabilities": []},
    "leaky": {
        "info": {"version": "1.5"},
        "vulnerabilities": [
            {"id": "PYSEC-0000-1", "fixed_in": [], "withdrawn": None},
            {"id": "GHSA-old", "fixed_in": ["1.4"], "withdrawn": "2026-01-01T00:00:00"},
        ],
    },
    "capped": {"info": {"version": "9.0"}, "vulnerabilities": []},
    # an index whose `info.version` names the latest upload — a post-release of an older
    # series — rather than the highest release; the highest is what pip installs
    "backported": {
        "info": {"version": "3.1.1.post1"},
        "releases": {
            "3.1.1": [{"upload_time": "2026-09-01T00:00:00", "yanked": False}],
            "3.2": [{"upload_time": "2026-10-01T00:00:00", "yanked": False}],
            "3.1.1.post1": [{"upload_time": "2026-11-01T00:00:00", "yanked": False}],
            "4.0rc1": [{"upload_time": "2026-11-02T00:00:00", "yanked": False}],
            "4.0": [{"upload_time": "2026-11-03T00:00:00", "yanked": True}],
        },
        "vulnerabilities": [],
    },
    "normalised": {"info": {"version": "84.2"}, "vulnerabilities": []},
    "older": {"info": {"version": "2.0"}, "vulnerabilities": []},
    "unknown": {"info": {"version": "1.0"}, "releases": {"1.0": [{}]}, "vulnerabilities": []},
}
RELEASES = {  # the per-release pages this index serves: exact advisories of old releases
    ("older", "1.0"): {"info": {"version": "1.0"}, "vulnerabilities": []},
    ("older", "1.1"): {
        "info": {"version": "1.1"},
        "vulnerabilities": [{"id": "GHSA-1111", "fixed_in": ["1.2"], "withdrawn": None}],
    },
}


class _JsonApi(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # /{project}/json and a few /{project}/{release}/json
        parts = self.path.strip("/").split("/")
        if len(parts) == 3:
            project = RELEASES.get((parts[0], parts[1]))
        else:
            project = PROJECTS.get(parts[0]) if len(parts) == 2 else None
        body = json.dumps(project).encode()
        self.send_response(200 if project else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def audit_newest(tmp_path: Path, pins: str, held_back: str, *extra: str) -> tuple[int, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JsonApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "pins.txt").write_text(pins)
    (tmp_path / "held-back.txt").write_text(held_back)
    api = f"http://127.0.0.1:{server.server_address[1]}"
    args = ["--json-api", api, "--requirement", str(tmp_path / "pins.txt")]
    try:
        result = subprocess.run(
            [
                sys.executable,
                str(AUDIT_NEWEST),
                *args,
                "--held-back",
                str(tmp_path / "held-back.txt"),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        probe = subprocess.run([sys.executable, str(AUDIT_NEWEST), "--probe", "--json-api", api])
    finally:
        server.shutdown()
    assert probe.returncode == 1  # no per-release data here: the fallback is what runs
    return result.returncode, result.stdout


def test_fallback_audit_fails_on_an_advisory_of_the_newest_release(tmp_path: Path) -> None:
    code, out = audit_newest(tmp_path, "fresh==2.0\nleaky==1.5\n", "")
    assert code == 1 and "leaky==1.5: PYSEC-0000-1" in out
    assert "GHSA-old" not in out and "fresh" not in out  # withdrawn; nothing known


def test_fallback_audit_passes_an_ignored_advisory(tmp_path: Path) -> None:
    code, out = audit_newest(tmp_path, "leaky==1.5\n", "", "--ignore-vuln", "PYSEC-0000-1")
    assert code == 0, out


def test_fallback_audit_fails_on_what_it_cannot_see_unless_listed(tmp_path: Path) -> None:
    code, out = audit_newest(tmp_path, "capped==8.1\n", "")
    assert code == 1 and "capped==8.1: held back from 9.0" in out
    code, out = audit_newest(tmp_path, "capped==8.1\n", "capped==8.1  # another's cap\n")
    assert code == 0, out
    code, out = audit_newest(tmp_path, "capped==8.0\n", "capped==8.1  # another's cap\n")
    assert code == 1  # held at another release than the list says: look again


def test_fallback_audit_compares_releases_as_versions_not_as_text(tmp_path: Path) -> None:
    """The newest release is the highest final one, whatever the index names as its
    latest upload; 84.2.0 is 84.2. Neither is "held back", so both are audited."""
    code, out = audit_newest(tmp_path, "backported==3.2\nnormalised==84.2.0\n", "")
    assert code == 0, out


def test_fallback_audit_reads_an_old_releases_own_advisories_where_served(
    tmp_path: Path,
) -> None:
    code, out = audit_newest(tmp_path, "older==1.0\n", "")
    assert code == 0, out  # behind the newest, yet audited: its own page answered
    code, out = audit_newest(tmp_path, "older==1.1\n", "")
    assert code == 1 and "older==1.1: GHSA-1111 (fixed in 1.2)" in out


def test_fallback_audit_fails_on_a_release_newer_than_the_index_knows(tmp_path: Path) -> None:
    code, out = audit_newest(tmp_path, "unknown==1.1\n", "")
    assert code == 1 and "unknown==1.1: newer than the index's newest release (1.0)" in out


def test_rabbitmq_with_amqp_1_0_is_running_before_the_tests() -> None:
    ci = CI.read_text()
    order = steps(ci)
    name = "RabbitMQ with AMQP 1.0 (stands in for Huawei IoTDA)"
    assert order.index(name) < order.index("tests")
    rabbit_step = ci.split(f'step "{name}"', 1)[1].split("\nstep ", 1)[0]
    lines = commands(rabbit_step)
    assert any("rabbitmq-server -detached" in line for line in lines)  # only if 5672 is closed
    assert any("rabbitmq-plugins enable rabbitmq_amqp1_0" in line for line in lines)
