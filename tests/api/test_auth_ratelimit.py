"""Login rate limiting: 5 failed sign-ins per username or per client address within 5
minutes, then 429 with Retry-After until the window passes; success clears the username.
Time is a manual clock handed to the app; nothing sleeps."""

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.ratelimit import MAX_FAILURES, WINDOW, LoginLimiter
from core.settings import Settings
from device_registry.provisioning import BrokerAdmin
from tests.support.world import PASSWORD, World


class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


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
    settings = Settings(database_url=database_url)  # type: ignore[arg-type]
    yield create_app(settings, pool, provisioner, clock=clock)


def sign_in(app: FastAPI, username: str, password: str, address: str = "10.0.0.1") -> int:
    client = TestClient(app, client=(address, 50000))
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    if response.status_code == 429:
        assert int(response.headers["Retry-After"]) >= 1
    return response.status_code


def test_five_failures_per_username_then_429_even_with_the_right_password(
    app: FastAPI, world: World, clock: ManualClock
) -> None:
    username = world.usernames["operator"]
    for attempt in range(MAX_FAILURES):  # from different addresses: the username counts
        assert sign_in(app, username, "wrong", address=f"10.0.1.{attempt}") == 401
    client = TestClient(app, client=("10.0.2.1", 50000))
    response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == int(WINDOW.total_seconds())
    # other users are not affected
    assert sign_in(app, world.usernames["admin"], PASSWORD, address="10.0.2.2") == 200
    clock.now += WINDOW / 2
    assert sign_in(app, username, PASSWORD, address="10.0.2.3") == 429
    clock.now += WINDOW / 2
    assert sign_in(app, username, PASSWORD, address="10.0.2.4") == 200


def test_five_failures_per_address_across_usernames(app: FastAPI, world: World) -> None:
    for attempt in range(MAX_FAILURES):
        assert sign_in(app, f"guess-{attempt}", "wrong", address="192.0.2.7") == 401
    assert sign_in(app, world.usernames["admin"], PASSWORD, address="192.0.2.7") == 429
    assert sign_in(app, world.usernames["admin"], PASSWORD, address="192.0.2.8") == 200


def test_success_resets_the_usernames_count(app: FastAPI, world: World) -> None:
    username = world.usernames["installer"]
    for attempt in range(MAX_FAILURES - 1):
        assert sign_in(app, username, "wrong", address=f"10.0.3.{attempt}") == 401
    assert sign_in(app, username, PASSWORD, address="10.0.3.100") == 200
    for attempt in range(MAX_FAILURES - 1):
        assert sign_in(app, username, "wrong", address=f"10.0.4.{attempt}") == 401
    assert sign_in(app, username, PASSWORD, address="10.0.4.100") == 200


def test_refused_attempts_do_not_extend_the_lock(app: FastAPI, clock: ManualClock) -> None:
    for _ in range(MAX_FAILURES):
        assert sign_in(app, "nobody", "wrong", address=f"10.0.5.{_}") == 401
    for _ in range(20):
        clock.now += timedelta(seconds=10)
        assert sign_in(app, "nobody", "wrong", address="10.0.5.99") == 429
    clock.now += WINDOW - timedelta(seconds=200)
    assert sign_in(app, "nobody", "wrong", address="10.0.5.98") == 401


def test_username_keys_ignore_case_and_the_key_table_is_bounded() -> None:
    limiter = LoginLimiter(max_failures=2, window=timedelta(minutes=5), max_keys=10)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    limiter.failed(limiter.keys("Alice", "a"), now)
    limiter.failed(limiter.keys(" alice", "b"), now)
    assert limiter.retry_after(limiter.keys("ALICE", "c"), now) == 300
    for n in range(1000):
        limiter.failed(limiter.keys(f"flood-{n}", f"x{n}"), now)
    assert len(limiter._failures) <= 10


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
