"""Small helpers shared by the registry's query functions."""

from typing import Any

from core.db import Row, fetch_all, fetch_one

__all__ = ["Row", "fetch_all", "fetch_one", "set_clause"]


def set_clause(changes: dict[str, Any]) -> tuple[str, list[Any]]:
    """`col = %s, …` for an UPDATE from already validated field names."""
    return ", ".join(f"{column} = %s" for column in changes), list(changes.values())
