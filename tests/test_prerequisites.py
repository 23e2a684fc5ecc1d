"""The test command says what the machine lacks, in one line each, before any test runs."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")


def test_a_missing_browser_stops_the_run_at_once_saying_how_to_get_one() -> None:
    env = {**os.environ, "NUANXIN_TEST_CHROMIUM": "/nonexistent/chromium"}
    result = subprocess.run(
        [*PYTEST, "tests/web"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 4, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "missing Chromium at /nonexistent/chromium: apt-get install chromium" in output
    assert " passed" not in output and " failed" not in output


def test_suites_that_need_no_browser_run_without_one() -> None:
    env = {**os.environ, "NUANXIN_TEST_CHROMIUM": "/nonexistent/chromium"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/core/test_vocabulary.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
