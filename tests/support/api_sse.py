"""A Server-Sent Events client for tests: reads a `text/event-stream` response in a
thread, as a browser's EventSource would, and hands over each event (and each comment
line, which EventSource ignores but tests want to see) through a queue."""

import contextlib
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class SseEvent:
    event: str  # "comment" for a `: …` line
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


class SseStream:
    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(5.0, read=None))
        self._request = self._client.build_request("GET", url, headers=headers, params=params)
        self._events: queue.Queue[SseEvent] = queue.Queue()
        self._response: httpx.Response | None = None
        self._thread: threading.Thread | None = None
        self.seen: list[SseEvent] = []

    def __enter__(self) -> "SseStream":
        response = self._client.send(self._request, stream=True)
        if response.status_code != 200:
            response.read()
            self._client.close()
            raise AssertionError(f"stream answered {response.status_code}: {response.text}")
        assert response.headers["content-type"].startswith("text/event-stream")
        self._response = response
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.next("comment", where=lambda e: e.data == "connected")  # subscribed from here on
        return self

    def __exit__(self, *exc: object) -> None:
        if self._response is not None:
            # closing the response does not wake a thread blocked reading its socket
            stream = self._response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._response.close()
        self._client.close()
        if self._thread is not None:
            self._thread.join(5)

    def next(
        self,
        event: str | None = None,
        *,
        where: Any = None,
        timeout: float = 2.0,
    ) -> SseEvent:
        """The first event (of that type, matching `where`) not yet taken; every event
        passed over on the way is kept in `seen`. AssertionError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                got = self._events.get(timeout=max(remaining, 0.001))
            except queue.Empty:
                raise AssertionError(f"no {event or 'event'} within {timeout} s") from None
            self.seen.append(got)
            if (event is None or got.event == event) and (where is None or where(got)):
                return got

    def _read(self) -> None:
        assert self._response is not None
        kind, data = "message", []
        try:
            for line in self._response.iter_lines():
                if line.startswith(":"):
                    self._events.put(SseEvent("comment", line[1:].strip()))
                elif line.startswith("event:"):
                    kind = line[len("event:") :].strip()
                elif line.startswith("data:"):
                    data.append(line[len("data:") :].strip())
                elif line == "":
                    if data:
                        self._events.put(SseEvent(kind, "\n".join(data)))
                    kind, data = "message", []
        except (httpx.HTTPError, OSError, RuntimeError):
            pass  # closed by __exit__ or by the server
