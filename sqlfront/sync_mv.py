"""Synchronous materialized views: keep each MV index's tablets up to date on every load (objects work)."""

from __future__ import annotations

from typing import Any


def sync_mv_rowsets(con: Any, layout: dict[str, Any], written: dict[int, dict[int, Any]], txn: str) -> dict[int, list[dict[str, Any]]]:
    """Rowsets for every sync MV index of the table, built from the base rowsets this load wrote."""
    return {}
