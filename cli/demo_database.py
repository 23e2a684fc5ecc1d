"""The demo's database: one it made itself, or an empty one it may take, never anyone
else's, and never one another demo is using.

A demo database carries a mark (`COMMENT ON DATABASE`) written when the demo creates or
takes it; only a marked database is dropped and made again for the next run. While a
demo runs, it holds an advisory lock on the server (in the `postgres` maintenance
database, keyed by the demo database's name) on a connection of its own: a second demo
asking for the same database is refused in one line, and the lock goes with the first
demo's connection however that demo ends. Dropping never uses FORCE: a database someone
is connected to is left alone and named in the refusal.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Any

import psycopg
from psycopg import sql

from cli.database import MAINTENANCE_DATABASE, database_name, server_of, with_database
from core.errors import NuanxinError

DEMO_MARK = "nuanxin demo database: every `nuanxin demo` run drops and recreates it"
LOCK_CLASS = 0x6E78  # first key of the demo's advisory locks ("nx"); the second: the name
CONNECT_TIMEOUT_S = 5


class DemoError(NuanxinError):
    """Raised when the demo cannot find, start or take a server it needs; one line."""


class State(Enum):
    MISSING = "missing"
    MARKED = "marked"  # a demo made or took it: it may be made again
    EMPTY = "empty"  # nothing in it to lose: the demo may take it
    FOREIGN = "foreign"  # someone's data: never touched


@dataclass
class DatabaseClaim:
    """The demo's database, held until `release()` (or until this process ends). Nothing
    in it changes until `make_fresh()`, so a demo refused later has touched nothing."""

    url: str
    state: State
    _lock: psycopg.Connection[Any]

    def make_fresh(self) -> None:
        """Drop a marked database and make it again; create a missing one; mark it."""
        name = database_name(self.url)
        where = f"{name} on {server_of(self.url)}"
        ident = sql.Identifier(name)
        if self.state is State.MARKED:
            _drop(self._lock, ident, where)
        if self.state in (State.MARKED, State.MISSING):
            self._lock.execute(sql.SQL("CREATE DATABASE {}").format(ident))
        mark = sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident, sql.Literal(DEMO_MARK))
        self._lock.execute(mark)
        self.state = State.MARKED

    def release(self) -> None:
        self._lock.close()


def claim(database_url: str, *, create: bool, option: str) -> DatabaseClaim:
    """Lock `database_url`'s database for this demo, refusing it if it is not one the
    demo may take (`make_fresh()` then prepares it).

    `create`: a missing database is created (the demo's own name); otherwise a missing
    one is refused with the command that creates it. `option` is what the person passes
    to choose another database, named in every refusal."""
    name = database_name(database_url)
    where = f"{name} on {server_of(database_url)}"
    lock = _connect(with_database(database_url, MAINTENANCE_DATABASE), where)
    try:
        _lock(lock, name, where, option)
        state = _state(lock, database_url, name)
        _refuse(state, name, where, create=create, option=option)
    except BaseException:
        lock.close()
        raise
    return DatabaseClaim(database_url, state, lock)


def _connect(url: str, where: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        said = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise DemoError(f"cannot reach PostgreSQL for the database {where}: {said}") from None


def _lock(conn: psycopg.Connection[Any], name: str, where: str, option: str) -> None:
    row = conn.execute(
        "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_CLASS, name)
    ).fetchone()
    if not (row and row[0]):
        raise DemoError(
            f"another nuanxin demo is using the database {where}: stop it (Ctrl-C in its "
            f"terminal), or give this one a database of its own with {option} NAME"
        )


def _state(conn: psycopg.Connection[Any], database_url: str, name: str) -> State:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (name,),
    ).fetchone()
    if row is None:
        return State.MISSING
    if row[0] == DEMO_MARK:
        return State.MARKED
    with psycopg.connect(database_url, connect_timeout=CONNECT_TIMEOUT_S) as inside:
        count = inside.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
            " AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
        ).fetchone()
    return State.EMPTY if count and count[0] == 0 else State.FOREIGN


def _refuse(state: State, name: str, where: str, *, create: bool, option: str) -> None:
    if state is State.FOREIGN:
        raise DemoError(
            f"the database {where} holds data and is not marked as a demo database: the "
            f"demo never seeds someone else's database; pass {option} with another name "
            f"(or, if it is an old demo's, drop it yourself: dropdb {name})"
        )
    if state is State.MISSING and not create:
        raise DemoError(
            f"the database {where} does not exist: create it (createdb {name}, or "
            "nuanxin migrate --create-database), or unset NUANXIN_DATABASE_URL and the demo "
            "makes a database of its own"
        )


def _drop(conn: psycopg.Connection[Any], ident: sql.Identifier, where: str) -> None:
    try:
        conn.execute(sql.SQL("DROP DATABASE {}").format(ident))  # never FORCE: see above
    except psycopg.errors.ObjectInUse:
        raise DemoError(
            f"the demo database {where} is in use by another client (psql, a running "
            "nuanxin?): close that session, or give the demo another database"
        ) from None
