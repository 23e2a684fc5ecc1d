"""Failed sign-ins, counted per username and per client address, in this process's memory.

After `max_failures` failed attempts within `window` for a username or for an address,
further attempts on it are refused (429 with Retry-After) until the oldest of those
failures leaves the window; a refused attempt is not counted and its password is not even
checked. A successful sign-in clears its username's count (not its address's: one address
guessing many accounts stays limited).

The counts live in one process: N API processes allow up to N × `max_failures` attempts,
and a restart forgets them. A limiter shared through PostgreSQL or the proxy is for later.
The address is the ASGI client address: behind a reverse proxy, run uvicorn with
`--proxy-headers --forwarded-allow-ips=<proxy>` so it is the caller's, not the proxy's.
"""

import threading
from collections import deque
from datetime import datetime, timedelta
from math import ceil
from typing import Final

MAX_FAILURES: Final = 5
WINDOW: Final = timedelta(minutes=5)
MAX_KEYS: Final = 100_000  # memory bound: a flood of random usernames cannot grow it further


class LoginLimiter:
    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: timedelta = WINDOW,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_keys = max_keys
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(username: str, address: str | None) -> tuple[str, str]:
        return f"user:{username.strip().casefold()}", f"addr:{address or 'unknown'}"

    def retry_after(self, keys: tuple[str, ...], now: datetime) -> int | None:
        """Seconds until an attempt on these keys is allowed again; None if it is now."""
        waits: list[timedelta] = []
        with self._lock:
            for key in keys:
                recent = self._recent(key, now)
                if len(recent) >= self.max_failures:
                    waits.append(recent[-self.max_failures] + self.window - now)
        if not waits:
            return None
        return max(1, ceil(max(waits).total_seconds()))

    def failed(self, keys: tuple[str, ...], now: datetime) -> None:
        with self._lock:
            for key in keys:
                recent = self._failures.setdefault(key, deque(maxlen=self.max_failures))
                recent.append(now)
            if len(self._failures) > self.max_keys:
                self._prune(now)

    def succeeded(self, username_key: str) -> None:
        with self._lock:
            self._failures.pop(username_key, None)

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        recent = self._failures.get(key, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        return recent

    def _prune(self, now: datetime) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        # Still full of live entries (a flood): forget the oldest rather than grow.
        while len(self._failures) > self.max_keys:
            del self._failures[next(iter(self._failures))]
