"""The operators' monitoring in deploy/monitoring is valid, its rules fire when they
should (promtool's own unit tests), and it watches the metrics the code really declares:
a metric renamed in code would otherwise turn a rule off without a word."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
PACKAGES = ("core", "cli", "ingest", "alerting", "device_registry", "api", "simulators", "bench")
DECLARED = re.compile(r"\b(?:Counter|Gauge|Histogram|Summary)\(\s*\"(nuanxin_[a-z0-9_]+)\"")
USED = re.compile(r"\bnuanxin_[a-z0-9_]+")
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def _base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _declared() -> set[str]:
    names: set[str] = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            names |= {_base(n) for n in DECLARED.findall(path.read_text(encoding="utf-8"))}
    return names


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: Debian's `prometheus` package carries it")
    return subprocess.run(
        [promtool, *args], cwd=MONITORING, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "args",
    [("check", "config", "prometheus.yml"), ("check", "rules", "rules.yml")],
    ids=["config", "rules"],
)
def test_promtool_accepts_the_configuration(args: tuple[str, ...]) -> None:
    result = _promtool(*args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_fire_as_their_unit_tests_say() -> None:
    result = _promtool("test", "rules", "rules.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_has_a_unit_test() -> None:
    rules = set(re.findall(r"- alert: (\w+)", (MONITORING / "rules.yml").read_text()))
    tested = set(re.findall(r"alertname: (\w+)", (MONITORING / "rules.test.yml").read_text()))
    assert rules - tested == set()


def test_rules_and_dashboard_name_only_metrics_the_code_declares() -> None:
    declared = _declared()
    assert declared, "no metric declarations found: the scan is broken"
    for name in ("rules.yml", "grafana-dashboard.json"):
        used = {_base(n) for n in USED.findall((MONITORING / name).read_text())}
        assert used - declared == set(), f"{name} names metrics no code declares"


def test_the_dashboard_shows_every_declared_metric() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    shown = {_base(n) for n in USED.findall(exprs)}
    assert _declared() - shown == set()
