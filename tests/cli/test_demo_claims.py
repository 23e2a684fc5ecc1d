"""What a demo may take on shared servers, played by the accidents that used to destroy
things: a second demo on the same database or broker, a demo pointed at somebody's
database, someone connected to the demo's database with psql. Real PostgreSQL, real
Mosquitto; no demo process (tests/cli/test_demo_safety.py runs those)."""

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cli.database import with_database
from cli.demo_claim import CLAIM_TOPIC, BrokerClaim
from cli.demo_database import DEMO_MARK, DatabaseClaim, DemoError, claim
from core.mqtt import new_client
from tests.support.anonymous_broker import anonymous_broker
from tests.support.servers import PG_ADMIN_URL, throwaway_database


@pytest.fixture
def demo_name() -> Iterator[str]:
    """A database name for the demo to create; dropped afterwards, whatever happened."""
    name = f"nuanxin_test_demo_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def broker_port(tmp_path: Path) -> Iterator[int]:
    with anonymous_broker(tmp_path) as port:
        yield port


def mark_of(name: str) -> str | None:
    with psycopg.connect(PG_ADMIN_URL) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    assert row is not None, f"{name} does not exist"
    return row[0] if row[0] is None else str(row[0])


def table_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    return int(row[0]) if row else 0


def take(url: str, create: bool = True) -> DatabaseClaim:
    """As the demo does: claim, then (nothing else refusing) make it fresh."""
    held = claim(url, create=create, option="--database")
    try:
        held.make_fresh()
    except BaseException:
        held.release()
        raise
    return held


def test_a_missing_demo_database_is_made_and_marked(demo_name: str) -> None:
    held = take(with_database(PG_ADMIN_URL, demo_name))
    try:
        assert mark_of(demo_name) == DEMO_MARK
    finally:
        held.release()


def test_a_marked_database_is_made_again_for_the_next_run(demo_name: str) -> None:
    url = with_database(PG_ADMIN_URL, demo_name)
    take(url).release()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE last_run (x int)")
    take(url).release()
    assert table_count(url) == 0 and mark_of(demo_name) == DEMO_MARK


def test_a_second_demo_on_the_same_database_is_refused_and_the_first_keeps_it(
    demo_name: str,
) -> None:
    url = with_database(PG_ADMIN_URL, demo_name)
    first = take(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE story (x int)")
        with pytest.raises(
            DemoError, match=f"another nuanxin demo is using the database {demo_name}.*--database"
        ):
            take(url)
        conn.execute("INSERT INTO story VALUES (1)")  # the first one's connection lives on
    assert table_count(url) == 1
    first.release()
    take(url).release()  # released: the next demo may have it


def test_a_foreign_database_is_refused_in_one_line_and_untouched() -> None:
    with throwaway_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE districts (name text)")
            conn.execute("INSERT INTO districts VALUES ('东胜区')")
        for create in (True, False):
            with pytest.raises(DemoError) as refused:
                take(url, create=create)
            assert "not marked as a demo database" in str(refused.value)
            assert "\n" not in str(refused.value)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT name FROM districts").fetchall() == [("东胜区",)]


def test_an_empty_database_is_taken_and_marked() -> None:
    with throwaway_database() as url:
        take(url, create=False).release()
        assert mark_of(url.rsplit("/", 1)[1]) == DEMO_MARK


def test_a_missing_database_the_demo_may_not_create_names_how_to_create_it(
    demo_name: str,
) -> None:
    with pytest.raises(DemoError, match=f"does not exist: create it \\(createdb {demo_name}"):
        take(with_database(PG_ADMIN_URL, demo_name), create=False)


def test_a_demo_database_someone_is_connected_to_is_not_dropped(demo_name: str) -> None:
    url = with_database(PG_ADMIN_URL, demo_name)
    take(url).release()
    with psycopg.connect(url, autocommit=True) as psql:
        with pytest.raises(DemoError, match="in use by another client"):
            take(url)
        assert psql.execute("SELECT 1").fetchone() == (1,)  # never terminated


def test_a_second_demo_on_the_same_broker_is_refused(broker_port: int) -> None:
    first = BrokerClaim("127.0.0.1", broker_port, "--local-mqtt", {"api": "http://a"})
    assert first.acquire()
    try:
        second = BrokerClaim("127.0.0.1", broker_port, "--local-mqtt", {"api": "http://b"})
        with pytest.raises(
            DemoError, match=r"in use by another nuanxin demo.*API http://a.*--local-mqtt"
        ):
            second.acquire()
    finally:
        first.release()
    third = BrokerClaim("127.0.0.1", broker_port, "--local-mqtt", {})
    assert third.acquire()  # released: the broker is free again
    third.release()
    assert retained_claim(broker_port) is None


def test_of_two_demos_claiming_at_once_exactly_one_keeps_the_broker(broker_port: int) -> None:
    claims = [BrokerClaim("127.0.0.1", broker_port, "--local-mqtt", {}) for _ in range(2)]
    outcomes: dict[int, bool] = {}

    def try_claim(index: int) -> None:
        try:
            outcomes[index] = claims[index].acquire()
        except DemoError:
            outcomes[index] = False

    threads = [threading.Thread(target=try_claim, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(outcomes.values()) == [False, True], outcomes
    winner = claims[next(i for i, won in outcomes.items() if won)]
    assert winner.token in (retained_claim(broker_port) or "")
    winner.release()


def test_a_demo_that_dies_leaves_the_broker_free(broker_port: int) -> None:
    dead = BrokerClaim("127.0.0.1", broker_port, "--local-mqtt", {})
    assert dead.acquire()
    sock = dead._client.socket()  # the process dies: its connection ends, no DISCONNECT
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)
    dead._stop.set()
    next_one = BrokerClaim("127.0.0.1", broker_port, "--local-mqtt", {})
    assert next_one.acquire()  # the broker published the dead one's will
    next_one.release()
    dead._client.loop_stop()


def retained_claim(port: int) -> str | None:
    """The retained claim on the broker, if any (read by a client that keeps nothing)."""
    got: list[bytes] = []
    client = new_client(f"claim-reader-{uuid.uuid4().hex[:8]}")
    client.on_message = lambda c, u, message: got.append(bytes(message.payload))
    client.connect("127.0.0.1", port)
    client.subscribe(CLAIM_TOPIC, qos=1)
    for _ in range(20):
        client.loop(timeout=0.05)
    client.disconnect()
    payloads = [p for p in got if p]
    return payloads[-1].decode() if payloads else None
