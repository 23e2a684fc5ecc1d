"""Run the installed `nuanxin` console script as people and deployments do."""

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# The console script installed beside the interpreter running the tests (the venv).
NUANXIN = str(Path(sys.executable).parent / "nuanxin")


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without any NUANXIN_* variable, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUANXIN_")}
    env.update(overrides)
    return env


def run_nuanxin(
    *args: str, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NUANXIN, *args], env=dict(env), capture_output=True, text=True, timeout=timeout
    )


def start_nuanxin(*args: str, env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [NUANXIN, *args],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
