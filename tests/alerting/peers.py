"""Local HTTP peers the alerting tests talk to: an application that receives Twilio's
callbacks, and a chat robot (WeCom, DingTalk or a generic JSON receiver).

Both record every request with its exact URL, headers and body, and answer what the
test told them to, over real HTTP on 127.0.0.1.
"""

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # with the query string, as requested
    headers: dict[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.path.partition("?")[2], keep_blank_values=True))

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    peer: "HttpPeer"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        peer = self.server.peer
        received = Received(self.command, self.path, dict(self.headers.items()), body)
        with peer.lock:
            peer.received.append(received)
            status, answer = peer.status, peer.answer
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


class HttpPeer:
    """Records requests; answers `status` with the JSON `answer`."""

    def __init__(self, status: int = 200, answer: Any = None) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.status = status
        self.answer: Any = {} if answer is None else answer
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.peer = self
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def respond(self, status: int, answer: Any) -> None:
        with self.lock:
            self.status, self.answer = status, answer

    def requests(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def dingtalk_sign(timestamp: str, secret: str) -> str:
    """What DingTalk computes to check a signed robot request (its documented recipe)."""
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()
