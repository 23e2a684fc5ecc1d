"""Failed sign-ins, counted so that guessing is slow and nobody can lock anyone else out.

Two counts, in this process's memory:

* **per client address** (an IPv6 address by its /64, which one subscriber holds whole):
  after `ADDRESS_MAX_FAILURES` failures within `ADDRESS_WINDOW`, every attempt from that
  address is refused (429 with Retry-After), whatever the username — so one address
  guessing one account or many stays limited;
* **per account**: after `ACCOUNT_FREE_FAILURES` failures within `ACCOUNT_WINDOW` from
  anywhere, the account backs off — the next attempt waits `ACCOUNT_BASE_DELAY`, doubling
  with each further failure up to `ACCOUNT_MAX_DELAY`, after the latest failure. The
  backoff holds back only addresses that have themselves failed more than
  `TYPOS_TOLERATED` times within `ADDRESS_WINDOW`: an address with no failure — or a
  typo or two — always gets its attempt. An attacker's failures, however many and from
  however many addresses, therefore never stop the person whose password it is from
  signing in from their own phone — which matters when that person must answer an
  alarm. An attacker spread over many addresses gets `TYPOS_TOLERATED + 1` attempts from
  each new one, then waits like the others.

An attempt is reserved — counted as a failure — before the (deliberately slow) password
check, under one lock, so parallel requests cannot all slip in before the first failure
is recorded. A successful sign-in withdraws its reservation and clears the account's
failures (not the address's: a guesser holding one valid account must not reset its
address's count by signing into it). An attempt the server could not judge (the
database failed) is withdrawn too, so an outage does not turn into a lock-out.

The counts live in one process: N API processes allow up to N times as many attempts,
and a restart forgets them. The address is the ASGI client address, which
`api.proxies` takes from a forwarding header only when the peer is a trusted proxy.
"""

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv6Address, ip_address, ip_network
from math import ceil
from typing import Final

ADDRESS_MAX_FAILURES: Final = 5
ADDRESS_WINDOW: Final = timedelta(minutes=5)
ACCOUNT_FREE_FAILURES: Final = 5
ACCOUNT_WINDOW: Final = timedelta(hours=1)
ACCOUNT_BASE_DELAY: Final = timedelta(seconds=15)
ACCOUNT_MAX_DELAY: Final = timedelta(minutes=5)
# A person who mistypes while their account is under attack is not held back for it.
TYPOS_TOLERATED: Final = 2
# An account's failures are remembered only this far back in number: the delay is at its
# cap long before, and memory stays bounded per key.
ACCOUNT_REMEMBERED: Final = 32
MAX_KEYS: Final = 100_000  # memory bound: a flood of random usernames cannot grow it further
IPV6_PREFIX: Final = 64


@dataclass(frozen=True)
class Reservation:
    """An attempt counted as a failure until `succeeded` or `withdraw` says otherwise."""

    account: str
    address: str
    at: datetime


@dataclass(frozen=True)
class Refused:
    retry_after_s: int


def account_key(username: str) -> str:
    return f"user:{username.strip().casefold()}"


def address_key(address: str | None) -> str:
    """The address an attempt counts against: an IPv6 address by its /64."""
    try:
        parsed = ip_address(address or "")
    except ValueError:
        return f"addr:{address or 'unknown'}"
    if isinstance(parsed, IPv6Address):
        if parsed.ipv4_mapped is not None:
            return f"addr:{parsed.ipv4_mapped}"
        return f"addr:{ip_network(f'{parsed}/{IPV6_PREFIX}', strict=False)}"
    return f"addr:{parsed}"


def account_delay(failures: int) -> timedelta:
    """How long an account with this many recent failures holds back failed addresses."""
    if failures < ACCOUNT_FREE_FAILURES:
        return timedelta(0)
    doublings: int = min(failures - ACCOUNT_FREE_FAILURES, 16)
    return min(ACCOUNT_BASE_DELAY * (1 << doublings), ACCOUNT_MAX_DELAY)


class LoginLimiter:
    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self._addresses: dict[str, deque[datetime]] = {}
        self._accounts: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def reserve(self, username: str, address: str | None, now: datetime) -> Reservation | Refused:
        """Count an attempt before its password is checked, or refuse it."""
        account, addr = account_key(username), address_key(address)
        with self._lock:
            failed_here = _recent(self._addresses, addr, now - ADDRESS_WINDOW)
            failed_account = _recent(self._accounts, account, now - ACCOUNT_WINDOW)
            wait = _wait(failed_here, failed_account, now)
            if wait > timedelta(0):
                return Refused(max(1, ceil(wait.total_seconds())))
            self._record(self._addresses, addr, now, ADDRESS_MAX_FAILURES, ADDRESS_WINDOW)
            self._record(self._accounts, account, now, ACCOUNT_REMEMBERED, ACCOUNT_WINDOW)
        return Reservation(account, addr, now)

    def succeeded(self, reservation: Reservation) -> None:
        with self._lock:
            _discard(self._addresses, reservation.address, reservation.at)
            self._accounts.pop(reservation.account, None)

    def withdraw(self, reservation: Reservation) -> None:
        """The attempt was never judged (the server failed): it counts for nothing."""
        with self._lock:
            _discard(self._addresses, reservation.address, reservation.at)
            _discard(self._accounts, reservation.account, reservation.at)

    def key_count(self) -> int:
        with self._lock:
            return len(self._addresses) + len(self._accounts)

    def _record(
        self,
        table: dict[str, deque[datetime]],
        key: str,
        now: datetime,
        maxlen: int,
        window: timedelta,
    ) -> None:
        table.setdefault(key, deque(maxlen=maxlen)).append(now)
        if len(table) > self.max_keys // 2:
            _prune(table, self.max_keys // 2, now - window)


def _wait(
    failed_here: deque[datetime], failed_account: deque[datetime], now: datetime
) -> timedelta:
    """How long until an attempt with these recent failures is allowed (≤ 0: now)."""
    waits = [timedelta(0)]
    if len(failed_here) >= ADDRESS_MAX_FAILURES:
        waits.append(failed_here[-ADDRESS_MAX_FAILURES] + ADDRESS_WINDOW - now)
    if len(failed_here) > TYPOS_TOLERATED and failed_account:
        waits.append(failed_account[-1] + account_delay(len(failed_account)) - now)
    return max(waits)


def _recent(table: dict[str, deque[datetime]], key: str, since: datetime) -> deque[datetime]:
    recent = table.get(key, deque())
    while recent and recent[0] <= since:
        recent.popleft()
    return recent


def _discard(table: dict[str, deque[datetime]], key: str, at: datetime) -> None:
    recent = table.get(key)
    if recent is not None and at in recent:
        recent.remove(at)


def _prune(table: dict[str, deque[datetime]], limit: int, since: datetime) -> None:
    for key in [key for key in table if not _recent(table, key, since)]:
        del table[key]
    # Still full of live entries (a flood): forget the oldest tenth rather than grow, so
    # the next flooded inserts do not each scan the table again.
    while len(table) > limit * 9 // 10:
        del table[next(iter(table))]
