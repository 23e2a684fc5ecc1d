"""Login rate limiting: 5 failed sign-ins per client address within 5 minutes, then 429
with Retry-After until the window passes; a per-account backoff for addresses that keep
failing; success clears the account. Time is a manual clock handed to the app; nothing
sleeps. The same attacks over real HTTP: test_signin_attacks.py."""

import hashlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.ratelimit import (
    ACCOUNT_FREE_FAILURES,
    ACCOUNT_MAX_DELAY,
    ADDRESS_MAX_FAILURES,
    ADDRESS_WINDOW,
    TYPOS_TOLERATED,
    LoginLimiter,
    Refused,
    Reservation,
    account_delay,
    address_key,
)
from core.settings import Settings
from device_registry.provisioning import BrokerAdmin
from tests.support.clock import ManualClock
from tests.support.world import PASSWORD, World


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(
    database_url: str,
    pool: ConnectionPool,
    provisioner: BrokerAdmin,
    world: World,
    clock: ManualClock,
) -> Iterator[FastAPI]:
    settings = Settings(database_url=database_url)
    yield create_app(settings, pool, provisioner, clock=clock)


def sign_in(app: FastAPI, username: str, password: str, address: str = "10.0.0.1") -> int:
    client = TestClient(app, client=(address, 50000))
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    if response.status_code == 429:
        assert int(response.headers["Retry-After"]) >= 1
    status: int = response.status_code  # TestClient's requests are typed as returning Any
    return status


def test_five_failures_per_address_across_usernames(app: FastAPI, world: World) -> None:
    for attempt in range(ADDRESS_MAX_FAILURES):
        assert sign_in(app, f"guess-{attempt}", "wrong", address="192.0.2.7") == 401
    assert sign_in(app, world.usernames["admin"], PASSWORD, address="192.0.2.7") == 429
    assert sign_in(app, world.usernames["admin"], PASSWORD, address="192.0.2.8") == 200


def test_the_account_backs_off_only_for_addresses_that_failed(
    app: FastAPI, world: World, clock: ManualClock
) -> None:
    """Failures from many addresses slow the account down for those addresses; an address
    that has not failed (or has only mistyped) signs in at once."""
    username = world.usernames["operator"]
    attackers = [f"10.0.1.{n}" for n in range(ACCOUNT_FREE_FAILURES)]
    for address in attackers:  # spread out, so no address reaches its own limit
        for _ in range(TYPOS_TOLERATED + 1):
            assert sign_in(app, username, "wrong", address=address) in (401, 429)
    client = TestClient(app, client=(attackers[0], 50000))
    response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= ACCOUNT_MAX_DELAY.total_seconds()
    assert sign_in(app, username, PASSWORD, address="10.0.2.1") == 200
    # other users are not affected
    assert sign_in(app, world.usernames["admin"], PASSWORD, address=attackers[0]) == 200


def test_the_account_backoff_doubles_up_to_its_cap_and_lets_one_attempt_in_each_time(
    clock: ManualClock,
) -> None:
    delays = [account_delay(ACCOUNT_FREE_FAILURES + k).total_seconds() for k in range(7)]
    assert delays == [15, 30, 60, 120, 240, 300, 300]
    assert account_delay(ACCOUNT_FREE_FAILURES - 1) == timedelta(0)
    limiter = LoginLimiter()
    failing = ["10.0.3.1", "10.0.3.2"]
    for address in failing:
        for _ in range(TYPOS_TOLERATED + 1):
            assert isinstance(limiter.reserve("alice", address, clock.now), Reservation)
    failures = len(failing) * (TYPOS_TOLERATED + 1)
    refused = limiter.reserve("alice", failing[0], clock.now)
    assert refused == Refused(int(account_delay(failures).total_seconds()))
    clock.now += account_delay(failures)
    # one attempt gets in; at that moment the next already waits twice as long
    assert isinstance(limiter.reserve("alice", failing[1], clock.now), Reservation)
    refused = limiter.reserve("alice", failing[0], clock.now)
    assert refused == Refused(int(account_delay(failures + 1).total_seconds()))


def test_success_clears_the_accounts_count(app: FastAPI, world: World) -> None:
    username = world.usernames["installer"]
    for attempt in range(ACCOUNT_FREE_FAILURES - 1):
        assert sign_in(app, username, "wrong", address=f"10.0.4.{attempt}") == 401
    assert sign_in(app, username, PASSWORD, address="10.0.4.100") == 200
    assert account_delay(0) == timedelta(0)
    for _ in range(TYPOS_TOLERATED + 1):
        assert sign_in(app, username, "wrong", address="10.0.4.0") == 401


def test_refused_attempts_do_not_extend_the_lock(app: FastAPI, clock: ManualClock) -> None:
    for _ in range(ADDRESS_MAX_FAILURES):
        assert sign_in(app, "nobody", "wrong", address="10.0.5.1") == 401
    for _ in range(20):
        clock.now += timedelta(seconds=10)
        assert sign_in(app, f"other-{_}", "wrong", address="10.0.5.1") == 429
    clock.now += ADDRESS_WINDOW - timedelta(seconds=200)
    assert sign_in(app, "someone", "wrong", address="10.0.5.1") == 401


def test_an_attempt_the_server_could_not_judge_counts_for_nothing(clock: ManualClock) -> None:
    """A database outage during sign-in must not leave people locked out afterwards."""
    limiter = LoginLimiter()
    for _ in range(3 * ADDRESS_MAX_FAILURES):
        attempt = limiter.reserve("alice", "10.0.6.1", clock.now)
        assert isinstance(attempt, Reservation)
        limiter.withdraw(attempt)
    assert isinstance(limiter.reserve("alice", "10.0.6.1", clock.now), Reservation)


def test_ipv6_callers_count_by_their_64_and_mapped_ipv4_as_ipv4() -> None:
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.1") == address_key("192.0.2.1")


def test_username_keys_ignore_case_and_the_key_table_is_bounded(clock: ManualClock) -> None:
    limiter = LoginLimiter(max_keys=20)
    for address in ("a", "b", "c", "d", "e"):
        for _ in range(TYPOS_TOLERATED + 1):
            limiter.reserve(" Alice", address, clock.now)
    refused = limiter.reserve("ALICE", "a", clock.now)
    assert isinstance(refused, Refused) and refused.retry_after_s == 300
    for n in range(1000):
        limiter.reserve(f"flood-{n}", f"x{n}", clock.now)
    assert limiter.key_count() <= 20


def test_passwords_are_argon2id_and_tokens_stored_hashed_and_expire(
    app: FastAPI, world: World, pool: ConnectionPool
) -> None:
    """Backs SECURITY.md: the database holds no password and no usable token."""
    client = TestClient(app, client=("10.0.9.1", 50000))
    username = world.usernames["family"]
    response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    token = response.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    with pool.connection() as conn:
        row = conn.execute("SELECT password_hash FROM users WHERE username = %s", (username,))
        stored = row.fetchone()
        assert stored is not None and str(stored[0]).startswith("$argon2id$")
        digest = hashlib.sha256(token.encode()).digest()
        hit = conn.execute("SELECT count(*) FROM api_tokens WHERE token_hash = %s", (digest,))
        assert hit.fetchone() == (1,)
        conn.execute(
            "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = %s",
            (digest,),
        )
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
