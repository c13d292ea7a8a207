"""Errors the core raises when a command is refused. The SQL front turns them into MySQL errors.

Codes follow StarRocks' ErrorCode.java (newer numbering, reference §6) where it defines one, and MySQL's
classic codes otherwise, so MySQL clients show `ERROR <code> (<sqlstate>): <message>`.
"""

from __future__ import annotations

ERR_SYNTAX = 1064
ERR_ACCESS_DENIED = 1045
ERR_DB_CREATE_EXISTS = 1007
ERR_TABLE_EXISTS = 1050
ERR_NO_DB_SELECTED = 1046
ERR_COMMON = 5064
ERR_BAD_DB = 5501
ERR_BAD_TABLE = 5502
ERR_NOT_OLAP_TABLE = 5503


class CatalogError(Exception):
    """A refused command: a code and StarRocks' message text."""

    def __init__(self, message: str, code: int = ERR_COMMON) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def unknown_database(name: str) -> CatalogError:
    return CatalogError(f"Unknown database '{name}'", ERR_BAD_DB)


def unknown_table(name: str) -> CatalogError:
    return CatalogError(f"Unknown table '{name}'", ERR_BAD_TABLE)
