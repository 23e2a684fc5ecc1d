"""The configured database, opened by the commands that need it whole (`serve`, `migrate`
and the single components): a missing one is named with how to create it, and
`nuanxin migrate --create-database` creates it.

Whether a database is missing is asked of its server (the `postgres` maintenance
database), not read from an error message: libpq's wording varies by version and locale.
"""

from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from core import db
from core.errors import DatabaseUnavailable

MAINTENANCE_DATABASE = "postgres"
CONNECT_TIMEOUT_S = 5


def with_database(url: str, dbname: str) -> str:
    """`url` (postgresql://…) with another database name; user, host and options kept."""
    return urlunsplit(urlsplit(url)._replace(path="/" + quote(dbname)))


def database_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))


def server_of(url: str) -> str:
    """host:port of a database URL, for messages (never the password)."""
    return db.describe(url).split("@", 1)[-1].rsplit("/", 1)[0]


class DatabaseMissing(DatabaseUnavailable):
    """Raised when the server answers but the configured database does not exist."""


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """`core.db.connect`, with a missing database explained instead of reported."""
    try:
        return db.connect(url, autocommit=autocommit)
    except DatabaseUnavailable:
        if exists(url) is False:
            name = database_name(url)
            raise DatabaseMissing(
                f"the database {name} does not exist on {server_of(url)}: create it with "
                f"`nuanxin migrate --create-database` (or `createdb {name}`), or set "
                "NUANXIN_DATABASE_URL to the database you meant"
            ) from None
        raise


def exists(url: str) -> bool | None:
    """Whether the server holds the database; None when that cannot be asked."""
    try:
        with psycopg.connect(
            with_database(url, MAINTENANCE_DATABASE), connect_timeout=CONNECT_TIMEOUT_S
        ) as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database_name(url),)
            ).fetchone()
    except psycopg.Error:
        return None
    return row is not None


def create(url: str) -> bool:
    """Create the database if it is missing; True when it was created."""
    if exists(url):
        return False
    name = database_name(url)
    try:
        with psycopg.connect(
            with_database(url, MAINTENANCE_DATABASE),
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.DuplicateDatabase:
        return False  # another host's migrate made it a moment ago
    except psycopg.Error as exc:
        said = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DatabaseUnavailable(
            f"cannot create the database {name} on {server_of(url)}: {said} (the account in "
            "NUANXIN_DATABASE_URL needs the CREATEDB right, or ask the database's "
            "administrator to create it)"
        ) from None
    return True
