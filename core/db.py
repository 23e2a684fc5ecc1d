"""The one place that opens PostgreSQL connections and pools.

Every component asks here, so connection options (application name, timeouts) and the
translation of connection failures into DatabaseUnavailable live in one spot.
"""

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg.sql import SQL, Composed
from psycopg_pool import ConnectionPool

from core.errors import DatabaseUnavailable

__all__ = ["ConnectionPool", "Row", "connect", "describe", "fetch_all", "fetch_one", "open_pool"]

CONNECT_TIMEOUT_S = 10

Row = dict[str, Any]
# Which rows a reader may see: an SQL condition and its parameters (access.alert_scope,
# Actor.elder_filter), passed to the domains' query functions.
Scope = tuple[str, list[object]]
Statement = str | SQL | Composed  # what a psycopg cursor executes


def fetch_one(conn: psycopg.Connection[Any], sql: Statement, params: Any = ()) -> Row | None:
    """The first row of a query, by column name."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchone()


def fetch_all(conn: psycopg.Connection[Any], sql: Statement, params: Any = ()) -> list[Row]:
    """Every row of a query, by column name."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def describe(url: str) -> str:
    """Server and database of a URL, without the password, for messages and logs."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable database URL>"
    host = info.get("host", "localhost")
    port = info.get("port", "5432")
    return f"{info.get('user', '')}@{host}:{port}/{info.get('dbname', '')}"


def _conninfo(url: str, application_name: str) -> str:
    return make_conninfo(
        url, application_name=application_name, connect_timeout=str(CONNECT_TIMEOUT_S)
    )


def connect(
    url: str, *, application_name: str = "nuanxin", autocommit: bool = False
) -> psycopg.Connection[Any]:
    """Open a single connection, e.g. for migrations or a one-off command."""
    try:
        return psycopg.connect(_conninfo(url, application_name), autocommit=autocommit)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {describe(url)}: {first_line}"
        ) from exc


def open_pool(
    url: str,
    *,
    name: str,
    min_size: int = 1,
    max_size: int = 10,
    wait: bool = True,
) -> ConnectionPool:
    """Open a connection pool; with `wait` it fails fast when the server is unreachable."""
    pool: ConnectionPool = ConnectionPool(
        _conninfo(url, f"nuanxin-{name}"),
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=False,
    )
    pool.open(wait=False)
    if wait:
        try:
            pool.wait(timeout=CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as exc:
            pool.close()
            raise DatabaseUnavailable(
                f"cannot connect to PostgreSQL at {describe(url)}: {exc}"
            ) from exc
    return pool
