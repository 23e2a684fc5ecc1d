"""Sign-in under attack, over real HTTP (uvicorn as the commands run it) and a real
database: parallel guesses are all counted, an attacker's failures cannot lock out the
person whose password it is, and proxy headers count only from a trusted proxy.

Callers come from different loopback addresses (127.0.0.2, 127.0.0.3, …): Linux routes
the whole of 127/8 to the server on 127.0.0.1, so each is a real peer address."""

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import httpx
import pytest
from fastapi import FastAPI
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.ratelimit import ADDRESS_MAX_FAILURES, TYPOS_TOLERATED
from core.settings import Settings
from device_registry.provisioning import BrokerAdmin
from tests.support.api_server import serve
from tests.support.world import PASSWORD, World

ATTACKER, PERSON, PROXY = "127.0.0.2", "127.0.0.3", "127.0.0.4"
# uvicorn, left to its defaults, believes X-Forwarded-For from here
LOOPBACK = "127.0.0.1"
TOKEN_PATH = "/api/v1/auth/token"


def make_app(
    database_url: str, pool: ConnectionPool, provisioner: BrokerAdmin, **env: str
) -> FastAPI:
    settings = Settings(database_url=database_url, **env)  # type: ignore[arg-type]
    return create_app(settings, pool, provisioner)


@contextmanager
def served(
    database_url: str, pool: ConnectionPool, provisioner: BrokerAdmin, **env: str
) -> Iterator[str]:
    with serve(make_app(database_url, pool, provisioner, **env)) as base:
        yield base


def sign_in(
    base: str,
    username: str,
    password: str,
    source: str,
    headers: Mapping[str, str] | None = None,
) -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=base, transport=transport, timeout=30) as client:
        response = client.post(
            TOKEN_PATH,
            data={"username": username, "password": password},
            headers=dict(headers or {}),
        )
    if response.status_code == 429:
        wait = response.headers["Retry-After"]
        assert int(wait) >= 1 and f"try again in {wait} s" in response.json()["detail"]
    return response.status_code


@pytest.fixture
def base(database_url: str, pool: ConnectionPool, provisioner: BrokerAdmin) -> Iterator[str]:
    with served(database_url, pool, provisioner) as base:
        yield base


def test_thirty_concurrent_wrong_passwords_the_excess_get_429(base: str, world: World) -> None:
    username = world.usernames["operator"]
    start = threading.Barrier(30)
    codes: list[int] = []

    def guess() -> None:
        start.wait()
        codes.append(sign_in(base, username, "wrong guess", ATTACKER))

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    counts = Counter(codes)
    assert counts == {401: ADDRESS_MAX_FAILURES, 429: 30 - ADDRESS_MAX_FAILURES}, counts


def test_an_attackers_failures_do_not_stop_the_right_password_from_another_address(
    base: str, world: World
) -> None:
    username = world.usernames["community_worker"]
    for _ in range(30):
        sign_in(base, username, "wrong guess", ATTACKER)
    # the attacker's address is stopped, whatever password it tries
    assert sign_in(base, username, PASSWORD, ATTACKER) == 429
    # the on-call worker, from an address that has not failed: typos are only 401s …
    for _ in range(TYPOS_TOLERATED):
        assert sign_in(base, username, "typo", PERSON) == 401
    # … and the right password works
    assert sign_in(base, username, PASSWORD, PERSON) == 200


FORWARDED_HEADERS: dict[str, Callable[[int], dict[str, str]]] = {
    "x-forwarded-for": lambda n: {"X-Forwarded-For": f"198.51.100.{n}"},
    "forwarded": lambda n: {"Forwarded": f"for=198.51.100.{n}"},
}


@pytest.mark.parametrize("header", FORWARDED_HEADERS)
def test_a_rotated_forwarded_for_from_an_untrusted_peer_changes_nothing(
    base: str, world: World, header: str
) -> None:
    """A proxy on loopback that is not in NUANXIN_TRUSTED_PROXIES (none are, by default)
    is a caller like any other."""
    rotate = FORWARDED_HEADERS[header]
    codes = [sign_in(base, f"guess-{n}", "wrong guess", LOOPBACK, rotate(n)) for n in range(10)]
    assert codes == [401] * ADDRESS_MAX_FAILURES + [429] * (10 - ADDRESS_MAX_FAILURES)
    # claiming a clean address does not help either, even with the right password
    assert sign_in(base, world.usernames["installer"], PASSWORD, LOOPBACK, rotate(200)) == 429


@pytest.mark.parametrize(
    ("header", "spoofed", "client"),
    [
        ("x-forwarded-for", {"X-Forwarded-For": "198.51.100.9"}, "203.0.113.5"),
        ("forwarded", {"Forwarded": 'for="198.51.100.9"'}, "203.0.113.5"),
    ],
)
def test_a_forwarded_for_from_a_trusted_proxy_is_honoured(
    database_url: str,
    pool: ConnectionPool,
    provisioner: BrokerAdmin,
    world: World,
    header: str,
    spoofed: dict[str, str],
    client: str,
) -> None:
    """The proxy appends the address it saw to what the caller sent: the nearest address
    that is not a trusted proxy is the caller, so a spoofed first entry changes nothing."""
    username = world.usernames["family"]
    name = next(iter(spoofed))

    def via_proxy(caller: str, sent: str | None = None) -> dict[str, str]:
        if name == "Forwarded":
            own = f"for={caller}"
            return {name: f"{sent}, {own}" if sent else own}
        return {name: f"{sent}, {caller}" if sent else caller}

    with served(
        database_url,
        pool,
        provisioner,
        trusted_proxies=f"{PROXY}/32",
        proxy_header=header,
    ) as base:
        sent = spoofed[name]
        for _ in range(ADDRESS_MAX_FAILURES):
            assert sign_in(base, username, "wrong", PROXY, via_proxy(client, sent)) == 401
        assert sign_in(base, username, PASSWORD, PROXY, via_proxy(client, sent)) == 429
        # another caller behind the same proxy is someone else
        assert sign_in(base, username, PASSWORD, PROXY, via_proxy("198.51.100.7")) == 200
        # the same headers from a peer that is not the proxy are not believed: that peer
        # is the caller (and has not failed), whatever it claims
        assert sign_in(base, username, PASSWORD, ATTACKER, via_proxy(client)) == 200
