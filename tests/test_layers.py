"""The layer contract of pyproject.toml ([tool.importlinter]), which CI runs as
`lint-imports`: the tree keeps it, and a domain reaching into another's internals, or
the service importing demo tooling, breaks it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = (
    "core",
    "cli",
    "embedded",
    "bench",
    "ingest",
    "alerting",
    "device_registry",
    "api",
    "simulators",
    "migrations",
)


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The project's packages and pyproject.toml, to break without touching the tree."""
    for package in PACKAGES:
        shutil.copytree(
            REPO_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_tree_keeps_the_layer_contract() -> None:
    result = lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "complaint"),
    [
        # the import this contract was written to remove: a channel name from ingest
        ("alerting/probe.py", "from ingest.writer import STAGING_SQL", "alerting"),
        ("ingest/probe.py", "from device_registry.devices import get_device", "ingest"),
        ("device_registry/probe.py", "from alerting.engine import AlertEngine", "device_registry"),
        ("core/probe.py", "from alerting import engine", "core"),
        ("api/probe.py", "from simulators import devices", "api"),
        ("api/probe.py", "from api.routes.alerts import router", "api"),
    ],
)
def test_reaching_across_the_layers_breaks_the_contract(
    tree_copy: Path, module: str, line: str, complaint: str
) -> None:
    (tree_copy / module).write_text(line + "\n")

    result = lint_imports(tree_copy)

    assert result.returncode == 1, result.stdout
    assert f"{complaint}.probe" in result.stdout
