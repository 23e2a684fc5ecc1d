"""The reply grammar, and the one door every provider acknowledgement must pass through."""

import ast
from pathlib import Path

import pytest

from alerting.inbound import Reply, parse_reply

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("alerting", "api", "cli", "simulators", "bench", "device_registry", "ingest", "core")
# Where an alert may be acknowledged: people signed in to the API (their scope checked by
# the route), and `alerting.inbound`, which counts each provider request once and binds it
# to its alert. A new provider path (another SMS provider's replies, a WeCom card click)
# must go through `inbound`, or this test names it.
ACKNOWLEDGERS = {"alerting/inbound.py", "api/routes/alerts.py"}


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        ("1", Reply(None)),
        (" 收到 ", Reply(None)),
        ("ＯＫ", Reply(None)),
        ("1#23", Reply(23)),
        ("1 #23", Reply(23)),
        ("收到＃２３", Reply(23)),  # full-width, as Chinese keyboards type it
        ("ok 23", Reply(23)),
        ("好的 # 7", Reply(7)),
        ("1#" + "9" * 18, Reply(int("9" * 18))),
    ],
)
def test_replies_that_acknowledge(body: str, reply: Reply) -> None:
    assert parse_reply(body) == reply


@pytest.mark.parametrize(
    "body",
    ["", "2", "123", "#23", "1#", "1#abc", "谢谢", "不1#23", "1#" + "9" * 19, "1#23 好", "1\x00"],
)
def test_replies_that_do_not(body: str) -> None:
    assert parse_reply(body) is None


def test_only_the_api_and_inbound_acknowledge() -> None:
    callers = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and _names_acknowledge(node.func):
                    callers.add(path.relative_to(ROOT).as_posix())
    assert callers == ACKNOWLEDGERS


def _names_acknowledge(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "acknowledge"
    return isinstance(func, ast.Name) and func.id == "acknowledge"
