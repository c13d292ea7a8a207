"""User-defined functions inside a session's DuckDB (filled in by the objects work)."""

from __future__ import annotations

from typing import Any


def register_functions(con: Any, functions_by_db: dict[str, list[dict[str, Any]]]) -> None:
    """Make the UDFs of the databases a query touches callable in DuckDB."""
