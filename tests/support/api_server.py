"""The API served by a real uvicorn on a free port, in a thread, for tests that need real
HTTP: a streaming response read as it arrives, or a webhook the local Twilio calls.

The socket is bound before the app is built (`bound_socket`), so a test can put the
port into the app's settings (the public base URL) without another process taking the
port in between.
"""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from api.serving import server_config

HOST = "127.0.0.1"


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


def base_url(sock: socket.socket) -> str:
    return f"http://{HOST}:{sock.getsockname()[1]}"


@contextmanager
def serve(
    app: FastAPI, sock: socket.socket | None = None, startup_timeout_s: float = 15
) -> Iterator[str]:
    """Serve `app` (lifespan included) and yield its base URL; stop it afterwards."""
    sock = sock or bound_socket()
    # as the commands run it (api.serving): no proxy headers of uvicorn's own, and its
    # records go through the one redacting handler
    config = server_config(
        app,
        log_level="warning",
        lifespan="on",
        # open event streams never end by themselves: cut them at shutdown
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {base_url(sock)}")
            time.sleep(0.02)
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
