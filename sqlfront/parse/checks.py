"""The checks StarRocks' analyzers make on a statement's text alone (no catalog): names that become parts of
repository paths, job properties, duplicated tables and aliases, the shape of SHOW SNAPSHOT's WHERE. They raise
StatementSemanticError; the statement builders call them once the tree is read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lark import Token, Tree

from sqlfront.parse import ast
from sqlfront.parse.errors import StatementSemanticError
from sqlfront.parse.lexical import unquote_string
from sqlfront.parse.tree import qname_parts, subtree

# Repository names, snapshot labels and backup timestamps become parts of paths in the repository
# (`__starrocks_repository_<name>/__ss_<label>/__info_<timestamp>`): a '/' or '\\' would reach another
# directory (`../..`) or a prefix another name owns. StarRocks allows letters, digits, '_', '-' and ':' only.
_PATH_PART_LIMIT = {"repository": 256, "snapshot": 128, "backup_timestamp": 64}


def path_part(kind: str, name: str) -> str:
    limit = _PATH_PART_LIMIT[kind]
    bad = ("/" in name or "\\" in name or not name.strip(".") or len(name) > limit
           or any(not c.isprintable() for c in name))
    if bad:
        shown = "".join(c if c.isprintable() else "?" for c in name[:60]) + ("..." if len(name) > 60 else "")
        raise StatementSemanticError(f"Invalid {kind} name '{shown}': it must be 1 to {limit} characters, not "
                                     "only dots, without '/', '\\' or control characters")
    return name


_JAVA_LONG = re.compile(r"[+-]?[0-9]+\Z")


def java_int(value: str, bits: int) -> int | None:
    """Integer.parseInt / Long.parseLong: optional sign, ASCII digits, in range; else None."""
    if not _JAVA_LONG.match(value) or len(value) > 20:
        return None
    n = int(value)
    if not -(2 ** (bits - 1)) <= n < 2 ** (bits - 1):
        return None
    return n


def timeout_seconds(value: str) -> int:
    seconds = java_int(value, 64)
    if seconds is None:
        raise StatementSemanticError(f"Invalid timeout format: {value}")
    if seconds * 1000 < 600_000:
        raise StatementSemanticError("timeout must be at least 10 min")
    return seconds


def java_key_set(keys: list[str]) -> str:
    return "[" + ", ".join(keys) + "]"


_SNAPSHOT_WHERE_MSG = (
    "Where clause should looks like: SNAPSHOT = 'your_snapshot_name' [AND TIMESTAMP = '2018-04-18-19-19-10']"
)


def snapshot_sub_expr(expr: Tree[Token] | Token, state: dict[str, str]) -> bool:
    """ShowSnapshotAnalyzer.analyzeSubExpr: `<column> <op> '<string>'`, column snapshot/timestamp."""
    if not isinstance(expr, Tree) or expr.data not in ("eq_pred", "cmp_pred"):
        return False
    operands = [c for c in expr.children if isinstance(c, Tree)]
    key, val = operands[0], operands[-1]
    if key.data != "column_ref" or val.data != "string_lit":
        return False
    column = qname_parts(key.children[0])[-1].lower()  # type: ignore[arg-type]
    value = unquote_string(val.children[0])  # type: ignore[arg-type]
    if column not in ("snapshot", "timestamp") or not value:
        return False
    state[column] = value
    return True


def analyze_snapshot_where(expr: Tree[Token] | Token) -> tuple[list[str], str | None]:
    state: dict[str, str] = {}
    names: list[str] = []
    ok = True
    if isinstance(expr, Tree) and expr.data in ("eq_pred", "cmp_pred"):
        ok = snapshot_sub_expr(expr, state)
    elif isinstance(expr, Tree) and expr.data == "and_pred":
        left, right = expr.children[0], expr.children[-1]
        ok = snapshot_sub_expr(left, state) and snapshot_sub_expr(right, state)
    elif isinstance(expr, Tree) and expr.data == "in_pred" and subtree(expr, "not_kw") is None:
        operands = [c for c in expr.children if isinstance(c, Tree)]
        left, values = operands[0], operands[1:]
        if left.data != "column_ref" or qname_parts(left.children[0])[-1].lower() != "snapshot":  # type: ignore[arg-type]
            raise StatementSemanticError("Left expr of should be snapshot")
        for value in values:
            if value.data != "string_lit":
                raise StatementSemanticError("Child of in predicate should be string value")
            name = unquote_string(value.children[0])  # type: ignore[arg-type]
            if name:
                names.append(name)
    else:
        # StarRocks silently ignores other shapes (LIKE, OR, ...); rejecting them is clearer.
        ok = False
    if ok and "snapshot" not in state and "timestamp" in state:
        ok = False
    if not ok:
        raise StatementSemanticError(_SNAPSHOT_WHERE_MSG)
    if "snapshot" in state:
        names = [state["snapshot"]]
    return names, state.get("timestamp")


# ---------------------------------------------------------------------------------------- BACKUP / RESTORE


def _table_names(objects: tuple[ast.BackupObject, ...]) -> set[str]:
    """The tables named (not functions); a table named twice is refused."""
    seen: set[str] = set()
    for obj in objects:
        if obj.kind != "FUNCTION" and obj.name is not None:
            if obj.name in seen:
                raise StatementSemanticError(f"Duplicated table: {obj.name}")
            seen.add(obj.name)
    return seen


def backup_objects(objects: tuple[ast.BackupObject, ...]) -> None:
    """BACKUP names each table once and gives no alias."""
    seen: set[str] = set()
    for obj in objects:
        if obj.kind != "FUNCTION" and obj.name is not None:
            if obj.name in seen:
                raise StatementSemanticError(f"Duplicated table: {obj.name}")
            seen.add(obj.name)
        if obj.alias is not None:
            raise StatementSemanticError(f"Can not set alias for table in Backup Stmt: {obj.name} AS {obj.alias}")


def backup_properties(props: dict[str, str]) -> tuple[str, bool, int | None]:
    """BACKUP's PROPERTIES: (type, whether it was given, timeout in seconds)."""
    backup_type = "FULL"
    type_given = False
    timeout_s: int | None = None
    unknown: list[str] = []
    for key, value in props.items():
        if key == "timeout":
            timeout_s = timeout_seconds(value)
        elif key == "type":
            upper = value.upper()
            if upper not in ("FULL", "INCREMENTAL"):
                raise StatementSemanticError(f"Invalid backup job type: {value}")
            backup_type, type_given = upper, True
        else:
            unknown.append(key)
    if unknown:
        raise StatementSemanticError(f"Unknown backup job properties: {java_key_set(unknown)}")
    return backup_type, type_given, timeout_s


def restore_objects(objects: tuple[ast.BackupObject, ...]) -> None:
    """RESTORE names each table once, and no alias is the name of another table or alias."""
    seen = _table_names(objects)
    for obj in objects:
        if obj.kind != "FUNCTION" and obj.alias is not None:
            if obj.alias in seen:
                raise StatementSemanticError(f"Duplicated alias name: {obj.alias}")
            seen.add(obj.alias)


@dataclass(frozen=True)
class RestoreOptions:
    backup_timestamp: str
    timeout_s: int | None = None
    allow_load: bool = False
    replication_num: int | None = None
    meta_version: int | None = None
    starrocks_meta_version: int | None = None


def _meta_int(value: str) -> int:
    n = java_int(value, 32)
    if n is None:
        raise StatementSemanticError(f"Invalid meta version format: {value}")
    return n


def restore_properties(props: dict[str, str]) -> RestoreOptions:
    """RESTORE's PROPERTIES, checked as StarRocks' RestoreStmt does; backup_timestamp is required."""
    values: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in props.items():
        if key == "timeout":
            values["timeout_s"] = timeout_seconds(value)
        elif key == "allow_load":
            if value.lower() not in ("true", "false"):
                raise StatementSemanticError(f"Invalid allow load value: {value}")
            values["allow_load"] = value.lower() == "true"
        elif key in ("replication_num", "meta_version"):
            values[key] = _meta_int(value)
        elif key == "starrocks_meta_version":
            values["starrocks_meta_version"] = _meta_int(value)
        elif key == "backup_timestamp":
            values["backup_timestamp"] = path_part("backup_timestamp", value)
        else:
            unknown.append(key)
    if "backup_timestamp" not in values:
        raise StatementSemanticError("Missing backup_timestamp property")
    if unknown:
        raise StatementSemanticError(f"Unknown restore job properties: {java_key_set(unknown)}")
    return RestoreOptions(**values)
