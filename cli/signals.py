"""Waiting for SIGTERM or SIGINT (Ctrl-C), the way every long-running command stops."""

import signal
import threading


def wait_for_stop(timeout_s: float | None = None) -> None:
    """Block until SIGTERM or SIGINT arrives, or `timeout_s` passes."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    stopping.wait(timeout_s)
