"""What the test suites need from the machine beyond the virtualenv, one row each: how
to tell it is there, which suites need it, and how to get it.

`pytest` checks the rows of the suites it collected before any test runs and, when one
is missing, stops at once with one line per missing part — not with a hundred failures
that each say it in their own way (see tests/conftest.py).
"""

import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
CHROMIUM: Final = os.environ.get("NUANXIN_TEST_CHROMIUM", "/usr/bin/chromium")


@dataclass(frozen=True)
class Prerequisite:
    name: str
    present: Callable[[], bool]
    suites: tuple[str, ...]  # test folders (under tests/) that need it; () = every suite
    remedy: str


def _listening(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    return check


def _cjk_fonts() -> bool:
    listing = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(listing.stdout.strip())


def _node_helpers() -> bool:
    return shutil.which("node") is not None and (REPO_ROOT / "node_modules").is_dir()


PREREQUISITES: Final = (
    Prerequisite(
        "PostgreSQL on 127.0.0.1:5432",
        _listening(5432),
        (),
        "start it (pg_ctlcluster <version> main start); trust auth for user postgres",
    ),
    Prerequisite(
        "mosquitto (the broker binary)",
        lambda: shutil.which("mosquitto") is not None or Path("/usr/sbin/mosquitto").exists(),
        (),
        "apt-get install mosquitto",
    ),
    Prerequisite(
        "Node 20 and the test helpers",
        _node_helpers,
        ("storage", "timescaledb", "deploy"),
        "install Node 20, then `npm ci` in the checkout",
    ),
    Prerequisite(
        f"Chromium at {CHROMIUM}",
        lambda: Path(CHROMIUM).exists(),
        ("web",),
        "apt-get install chromium (or set NUANXIN_TEST_CHROMIUM to another executable)",
    ),
    Prerequisite(
        "fonts with Chinese glyphs",
        lambda: shutil.which("fc-list") is not None and _cjk_fonts(),
        ("web",),
        "apt-get install fonts-noto-cjk (the screenshots show Chinese text)",
    ),
    Prerequisite(
        "promtool",
        lambda: shutil.which("promtool") is not None,
        ("deploy",),
        "apt-get install prometheus (it carries promtool)",
    ),
    Prerequisite(
        "RabbitMQ with AMQP 1.0 on 127.0.0.1:5672",
        _listening(5672),
        ("ingest", "platforms"),
        "apt-get install rabbitmq-server; rabbitmq-server -detached;"
        " rabbitmq-plugins enable rabbitmq_amqp1_0",
    ),
)


def missing(collected: Iterable[Path]) -> list[str]:
    """One line for each prerequisite a collected test needs and the machine lacks."""
    suites = {_suite(path) for path in collected}
    return [
        f"missing {p.name}: {p.remedy}"
        for p in PREREQUISITES
        if (not p.suites or suites & set(p.suites)) and not p.present()
    ]


def _suite(path: Path) -> str:
    parts = path.resolve().relative_to(REPO_ROOT / "tests").parts
    return parts[0] if len(parts) > 1 else ""
