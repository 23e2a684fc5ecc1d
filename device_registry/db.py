"""Small helpers shared by the registry's query functions."""

from typing import Any

import psycopg
from psycopg.rows import dict_row

Row = dict[str, Any]


def fetch_one(conn: psycopg.Connection[Any], sql: str, params: Any = ()) -> Row | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchone()


def fetch_all(conn: psycopg.Connection[Any], sql: str, params: Any = ()) -> list[Row]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def set_clause(changes: dict[str, Any]) -> tuple[str, list[Any]]:
    """`col = %s, …` for an UPDATE from already validated field names."""
    return ", ".join(f"{column} = %s" for column in changes), list(changes.values())
