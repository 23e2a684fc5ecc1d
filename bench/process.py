"""What a benchmark reads about a process from /proc: CPU seconds and memory."""

import os
import subprocess
import sys
import threading
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def peak_rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmHWM:")


def rss_mb(pid: int) -> float:
    """Resident memory now (a soak follows it over time; the peak only ever rises)."""
    return _status_mb(pid, "VmRSS:")


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_nuanxin(
    args: list[str], env: dict[str, str], ready: str = "ingest subscribed", timeout_s: float = 60
) -> subprocess.Popen[str]:
    """`nuanxin ARGS` in a process of its own (this interpreter), returned once its log
    shows `ready`; its log keeps being read so the pipe never fills."""
    command = [sys.executable, "-c", f"from cli.main import main; main({args!r})"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    seen = threading.Event()

    def watch() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if ready in line:
                seen.set()

    threading.Thread(target=watch, daemon=True).start()
    if ready and not seen.wait(timeout_s):
        process.kill()
        raise TimeoutError(f"nuanxin {' '.join(args)} did not log {ready!r}")
    return process
