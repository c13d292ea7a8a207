"""Parser for the StarRocks statements sqlglot cannot handle (grammar: ``statements.lark``).

``parse_statement(sql)``:

* returns ``None`` when the statement is not one of ours (decided cheaply from its leading keywords,
  before lark runs) -- the caller falls back to sqlglot;
* returns a :class:`sqlfront.parse.ast.Statement` on success;
* raises :class:`StatementSyntaxError` (the caller reports MySQL error 1064) for a statement that
  starts like ours but does not match the grammar;
* raises :class:`StatementSemanticError` for the analyzer errors StarRocks raises that can be detected
  without catalog access (property validation, duplicated tables/aliases, SHOW SNAPSHOT WHERE shape,
  missing ``backup_timestamp``...).
"""

from __future__ import annotations

import re

from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from sqlfront.parse import ast, grammar
from sqlfront.parse.errors import StatementSemanticError, StatementSyntaxError, syntax_error_text, unexpected
from sqlfront.parse.lexical import unquote_string

__all__ = ["StatementSemanticError", "StatementSyntaxError", "parse_statement", "is_our_statement"]


# ---------------------------------------------------------------------------------------- cheap dispatch

_LEAD_RE = re.compile(r"\s+|--[^\n]*|/\*.*?\*/|([A-Za-z_][A-Za-z0-9_]*)|.", re.S)


def _leading_words(sql: str, n: int = 4) -> list[str]:
    words: list[str] = []
    for m in _LEAD_RE.finditer(sql):
        word = m.group(1)
        if word is None:
            if m.group(0)[0].isspace() or m.group(0).startswith(("--", "/*")):
                continue
            break
        words.append(word.upper())
        if len(words) == n:
            break
    return words


_CREATE_SECOND = {"REPOSITORY", "READ", "VIEW", "MATERIALIZED", "FUNCTION", "GLOBAL", "AGGREGATE"}
_DROP_SECOND = {"REPOSITORY", "VIEW", "MATERIALIZED", "FUNCTION", "CATALOG"}
_SHOW_SECOND = {"REPOSITORIES", "BACKUP", "RESTORE", "SNAPSHOT", "CATALOGS", "FUNCTIONS", "MATERIALIZED"}


def is_our_statement(sql: str) -> bool:
    """True when ``sql`` starts with the leading keywords of a statement this module parses."""
    w = _leading_words(sql) + ["", "", "", ""]
    first, second, third, fourth = w[0], w[1], w[2], w[3]
    if first in ("BACKUP", "RESTORE"):
        return True
    if first == "CANCEL":
        return second in ("BACKUP", "RESTORE")
    if first == "CREATE":
        return (
            second in _CREATE_SECOND
            or (second == "OR" and third == "REPLACE" and fourth == "VIEW")
            or (second == "TABLE" and third == "FUNCTION")
            or (second == "EXTERNAL" and third == "CATALOG")
        )
    if first == "DROP":
        return second in _DROP_SECOND or (second == "GLOBAL" and third == "FUNCTION")
    if first == "SHOW":
        return (
            second in _SHOW_SECOND
            or (second == "CREATE" and third in ("VIEW", "MATERIALIZED", "CATALOG"))
            or (second == "FULL" and (third == "FUNCTIONS" or (third == "GLOBAL" and fourth == "FUNCTIONS")))
            or (second == "GLOBAL" and third == "FUNCTIONS")
        )
    if first == "ALTER":
        return second in ("VIEW", "MATERIALIZED")
    if first == "REFRESH":
        return second == "MATERIALIZED"
    if first == "ADMIN":
        return second in ("SET", "SHOW") and third == "FRONTEND"
    return False


# ---------------------------------------------------------------------------------------- trailing ';'

_SIGNIFICANT_RE = re.compile(
    r"""\s+|--[^\n]*|/\*.*?(?:\*/|\Z)|'(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?|`(?:[^`]|``)*`?"""
    r"""|\$\$.*?(?:\$\$|\Z)|[^\s'"`$;/-]+|.""",
    re.S,
)


def _strip_terminator(sql: str) -> str:
    """Drop one trailing ``;`` and any whitespace/comments around it (strings and comments aware)."""
    last_end = 0
    last_semicolon: tuple[int, int] | None = None  # (start, end of significant text before it)
    for m in _SIGNIFICANT_RE.finditer(sql):
        tok = m.group(0)
        if tok[0].isspace() or tok.startswith(("--", "/*")):
            continue
        if tok == ";":
            last_semicolon = (m.start(), last_end)
        else:
            last_semicolon = None
        last_end = m.end()
    if last_semicolon is not None:
        return sql[: last_semicolon[1]]
    return sql[:last_end]


# ---------------------------------------------------------------------------------------- lark

# ---------------------------------------------------------------------------------------- public API


def parse_statement(sql: str) -> ast.Statement | None:
    """Parse one statement; see the module docstring for the contract."""
    if not is_our_statement(sql):
        return None
    text = _strip_terminator(sql)
    lark = grammar.parser("statements", propagate_positions=True)
    try:
        tree = lark.parse(text)
    except UnexpectedInput as exc:
        raise grammar.syntax_error(lark, text, exc) from None
    return _Builder(text).build(tree.children[0])


# ---------------------------------------------------------------------------------------- tree helpers

def _subtrees(node: Tree, data: str) -> list[Tree]:
    return [c for c in node.children if isinstance(c, Tree) and c.data == data]


def _subtree(node: Tree, data: str) -> Tree | None:
    for c in node.children:
        if isinstance(c, Tree) and c.data == data:
            return c
    return None


def _has_token(node: Tree, *types: str) -> bool:
    return any(isinstance(c, Token) and c.type in types for c in node.children)


def _token_of(node: Tree, *types: str) -> Token | None:
    for c in node.children:
        if isinstance(c, Token) and c.type in types:
            return c
    return None


def _ident(node: Tree) -> str:
    tok = node.children[0]
    assert isinstance(tok, Token)
    if tok.type == "BQIDENT":
        return tok.value[1:-1].replace("``", "`")
    return str(tok.value)


def _qname_parts(node: Tree) -> tuple[str, ...]:
    return tuple(_ident(c) for c in node.children)


def _string(node: Tree) -> str:
    tok = node.children[0]
    if not isinstance(tok, Token):
        raise StatementSyntaxError(syntax_error_text(1, 0, "a string is expected"))
    value = unquote_string(tok.value)
    if "\0" in value:  # a \0 escape: no label, path or property may hold one (it never reaches the file system)
        line, col = _line_col_of(tok)
        raise StatementSyntaxError(syntax_error_text(line, col, "a NUL character is not allowed in a string here"))
    return value


# Repository names, snapshot labels and backup timestamps become parts of paths in the repository
# (`__starrocks_repository_<name>/__ss_<label>/__info_<timestamp>`): a '/' or '\\' would reach another
# directory (`../..`) or a prefix another name owns. StarRocks allows letters, digits, '_', '-' and ':' only.
_PATH_PART_LIMIT = {"repository": 256, "snapshot": 128, "backup_timestamp": 64}


def _path_part(kind: str, name: str) -> str:
    limit = _PATH_PART_LIMIT[kind]
    bad = ("/" in name or "\\" in name or not name.strip(".") or len(name) > limit
           or any(not c.isprintable() for c in name))
    if bad:
        shown = "".join(c if c.isprintable() else "?" for c in name[:60]) + ("..." if len(name) > 60 else "")
        raise StatementSemanticError(f"Invalid {kind} name '{shown}': it must be 1 to {limit} characters, not "
                                     "only dots, without '/', '\\' or control characters")
    return name


def _line_col_of(tok: Token) -> tuple[int, int]:
    return tok.line or 1, (tok.column or 1) - 1


def _ident_or_string(node: Tree) -> str:
    inner = node.children[0]
    assert isinstance(inner, Tree)
    return _ident(inner) if inner.data == "ident" else _string(inner)


def _properties(node: Tree | None) -> dict[str, str]:
    props: dict[str, str] = {}
    if node is None:
        return props
    for prop in _subtrees(node, "property"):
        key, value = (c for c in prop.children if isinstance(c, Tree))
        props[_string(key)] = _string(value)
    return props


def _span(node: Tree | Token) -> tuple[int, int]:
    if isinstance(node, Token):
        return node.start_pos or 0, node.end_pos or 0
    return node.meta.start_pos, node.meta.end_pos


_JAVA_LONG = re.compile(r"[+-]?[0-9]+\Z")


def _java_int(value: str, bits: int) -> int | None:
    """Integer.parseInt / Long.parseLong: optional sign, ASCII digits, in range; else None."""
    if not _JAVA_LONG.match(value) or len(value) > 20:
        return None
    n = int(value)
    if not -(2 ** (bits - 1)) <= n < 2 ** (bits - 1):
        return None
    return n


def _timeout_seconds(value: str) -> int:
    seconds = _java_int(value, 64)
    if seconds is None:
        raise StatementSemanticError(f"Invalid timeout format: {value}")
    if seconds * 1000 < 600_000:
        raise StatementSemanticError("timeout must be at least 10 min")
    return seconds


def _java_key_set(keys: list[str]) -> str:
    return "[" + ", ".join(keys) + "]"


_SNAPSHOT_WHERE_MSG = (
    "Where clause should looks like: SNAPSHOT = 'your_snapshot_name' [AND TIMESTAMP = '2018-04-18-19-19-10']"
)

_OBJECT_KINDS: dict[str, ast.ObjectKind] = {
    "all_tables": "TABLE",
    "table_obj": "TABLE",
    "all_mvs": "MATERIALIZED_VIEW",
    "mv_obj": "MATERIALIZED_VIEW",
    "all_views": "VIEW",
    "view_obj": "VIEW",
    "all_functions": "FUNCTION",
    "function_obj": "FUNCTION",
}


# ---------------------------------------------------------------------------------------- builder


class _Builder:
    def __init__(self, text: str):
        self.text = text

    def build(self, node: Tree) -> ast.Statement:
        method = getattr(self, "_" + str(node.data))
        return method(node)

    def raw(self, node: Tree | Token) -> str:
        start, end = _span(node)
        return self.text[start:end]

    # -------------------------------------------------------------- shared pieces

    @staticmethod
    def _db_and_name(node: Tree, what: str = "table") -> tuple[str | None, str]:
        parts = _qname_parts(node)
        if len(parts) == 1:
            return None, parts[0]
        if len(parts) == 2:
            return parts[0], parts[1]
        raise StatementSemanticError(f"Invalid {what} name: {'.'.join(parts)}")

    @staticmethod
    def _from_db(node: Tree) -> str | None:
        sub = _subtree(node, "from_db")
        return _ident(_subtree(sub, "ident")) if sub is not None else None  # type: ignore[arg-type]

    @staticmethod
    def _like(node: Tree) -> str | None:
        sub = _subtree(node, "like")
        return _string(_subtree(sub, "string")) if sub is not None else None  # type: ignore[arg-type]

    def _objects(self, node: Tree) -> tuple[ast.BackupObject, ...]:
        on = _subtree(node, "on_clause")
        if on is None:
            return ()
        objects = []
        for obj in on.children:
            if not isinstance(obj, Tree):
                continue
            kind = _OBJECT_KINDS[str(obj.data)]
            if obj.data.startswith("all_"):
                objects.append(ast.BackupObject(kind=kind, name=None))
                continue
            name = _qname_parts(_subtree(obj, "qname"))[-1]  # type: ignore[arg-type]
            alias_node = _subtree(obj, "alias")
            alias = _ident(alias_node.children[1]) if alias_node is not None else None  # type: ignore[arg-type]
            partitions: tuple[str, ...] = ()
            temporary = False
            parts_node = _subtree(obj, "partition_names")
            if parts_node is not None:
                temporary = _subtree(parts_node, "temporary") is not None
                partitions = tuple(_ident_or_string(c) for c in _subtrees(parts_node, "ident_or_string"))
            objects.append(
                ast.BackupObject(
                    kind=kind, name=name, partitions=partitions, temporary=temporary, alias=alias
                )
            )
        return tuple(objects)

    def _show_tail(self, node: Tree) -> dict[str, object]:
        tail = _subtree(node, "show_tail")
        out: dict[str, object] = {"where": None, "order_by": None, "limit": None, "offset": None}
        if tail is None:
            return out
        where = _subtree(tail, "where_clause")
        if where is not None:
            out["where"] = self.raw(where.children[1])
        order = _subtree(tail, "order_clause")
        if order is not None:
            items = _subtrees(order, "sort_item")
            out["order_by"] = self.text[_span(items[0])[0] : _span(items[-1])[1]]
        for data in ("limit_only", "limit_offset_comma", "limit_offset"):
            lim = _subtree(tail, data)
            if lim is None:
                continue
            nums = [int(c) for c in lim.children if isinstance(c, Token) and c.type == "INT"]
            if data == "limit_only":
                out["limit"] = nums[0]
            elif data == "limit_offset_comma":
                out["offset"], out["limit"] = nums
            else:
                out["limit"], out["offset"] = nums
        return out

    # -------------------------------------------------------------- repositories

    def _create_repo(self, node: Tree) -> ast.CreateRepository:
        broker = _subtree(node, "broker_name")
        return ast.CreateRepository(
            name=_path_part("repository", _ident(_subtree(node, "ident"))),  # type: ignore[arg-type]
            read_only=_subtree(node, "read_only") is not None,
            broker=_ident_or_string(broker.children[0]) if broker is not None else None,  # type: ignore[arg-type]
            location=_string(_subtree(node, "string")),  # type: ignore[arg-type]
            properties=_properties(_subtree(node, "properties")),
        )

    def _drop_repo(self, node: Tree) -> ast.DropRepository:
        return ast.DropRepository(name=_ident(_subtree(node, "ident")))  # type: ignore[arg-type]

    def _show_repos(self, node: Tree) -> ast.ShowRepositories:
        return ast.ShowRepositories()

    # -------------------------------------------------------------- BACKUP

    def _backup(self, node: Tree) -> ast.Backup:
        prefix_db, label = self._db_and_name(_subtree(node, "qname"), "snapshot")  # type: ignore[arg-type]
        _path_part("snapshot", label)
        db_node = _subtree(node, "backup_db")
        clause_db = _ident(_subtree(db_node, "ident")) if db_node is not None else None  # type: ignore[arg-type]
        if clause_db is not None and prefix_db is not None:
            raise StatementSemanticError(
                f"Can not specify the database both by DATABASE {clause_db} and by the snapshot name "
                f"prefix {prefix_db}.{label}"
            )
        catalogs: None | str | tuple[str, ...] = None
        if _subtree(node, "all_catalogs") is not None:
            catalogs = "ALL"
        elif (lst := _subtree(node, "catalog_list")) is not None:
            catalogs = tuple(_ident(c) for c in _subtrees(lst, "ident"))
        objects = self._objects(node)

        seen: set[str] = set()
        for obj in objects:
            if obj.kind != "FUNCTION" and obj.name is not None:
                if obj.name in seen:
                    raise StatementSemanticError(f"Duplicated table: {obj.name}")
                seen.add(obj.name)
            if obj.alias is not None:
                raise StatementSemanticError(
                    f"Can not set alias for table in Backup Stmt: {obj.name} AS {obj.alias}"
                )

        props = _properties(_subtree(node, "properties"))
        backup_type = "FULL"
        type_given = False
        timeout_s: int | None = None
        unknown: list[str] = []
        for key, value in props.items():
            if key == "timeout":
                timeout_s = _timeout_seconds(value)
            elif key == "type":
                upper = value.upper()
                if upper not in ("FULL", "INCREMENTAL"):
                    raise StatementSemanticError(f"Invalid backup job type: {value}")
                backup_type, type_given = upper, True
            else:
                unknown.append(key)
        if unknown:
            raise StatementSemanticError(f"Unknown backup job properties: {_java_key_set(unknown)}")

        return ast.Backup(
            db=clause_db if clause_db is not None else prefix_db,
            snapshot=label,
            repo=_ident(_subtree(node, "ident")),  # type: ignore[arg-type]
            objects=objects,
            external_catalogs=catalogs,  # type: ignore[arg-type]
            properties=props,
            type=backup_type,  # type: ignore[arg-type]
            type_given=type_given,
            timeout_s=timeout_s,
        )

    # -------------------------------------------------------------- RESTORE

    def _restore(self, node: Tree) -> ast.Restore:
        prefix_db, label = self._db_and_name(_subtree(node, "qname"), "snapshot")  # type: ignore[arg-type]
        _path_part("snapshot", label)
        db_node = _subtree(node, "restore_db")
        database = alias = None
        if db_node is not None:
            names = _subtrees(db_node, "ident")
            database = _ident(names[0])
            alias = _ident(names[1]) if len(names) > 1 else None
        if prefix_db is not None and alias is not None:
            raise StatementSemanticError(
                f"Can not specify the target database both by the snapshot name prefix {prefix_db}.{label} "
                f"and by DATABASE {database} AS {alias}"
            )
        catalogs: None | str | tuple[tuple[str, str | None], ...] = None
        if _subtree(node, "all_catalogs") is not None:
            catalogs = "ALL"
        elif (lst := _subtree(node, "catalog_alias_list")) is not None:
            pairs = []
            for item in _subtrees(lst, "catalog_alias"):
                ids = _subtrees(item, "ident")
                pairs.append((_ident(ids[0]), _ident(ids[1]) if len(ids) > 1 else None))
            catalogs = tuple(pairs)
        objects = self._objects(node)

        seen: set[str] = set()
        for obj in objects:
            if obj.kind != "FUNCTION" and obj.name is not None:
                if obj.name in seen:
                    raise StatementSemanticError(f"Duplicated table: {obj.name}")
                seen.add(obj.name)
        for obj in objects:
            if obj.kind != "FUNCTION" and obj.alias is not None:
                if obj.alias in seen:
                    raise StatementSemanticError(f"Duplicated alias name: {obj.alias}")
                seen.add(obj.alias)

        props = _properties(_subtree(node, "properties"))
        timeout_s: int | None = None
        allow_load = False
        replication_num: int | None = None
        backup_timestamp: str | None = None
        meta_version: int | None = None
        sr_meta_version: int | None = None
        unknown: list[str] = []

        def parse_int(value: str) -> int:
            n = _java_int(value, 32)
            if n is None:
                raise StatementSemanticError(f"Invalid meta version format: {value}")
            return n

        for key, value in props.items():
            if key == "timeout":
                timeout_s = _timeout_seconds(value)
            elif key == "allow_load":
                if value.lower() not in ("true", "false"):
                    raise StatementSemanticError(f"Invalid allow load value: {value}")
                allow_load = value.lower() == "true"
            elif key == "replication_num":
                replication_num = parse_int(value)
            elif key == "backup_timestamp":
                backup_timestamp = _path_part("backup_timestamp", value)
            elif key == "meta_version":
                meta_version = parse_int(value)
            elif key == "starrocks_meta_version":
                sr_meta_version = parse_int(value)
            else:
                unknown.append(key)
        if backup_timestamp is None:
            raise StatementSemanticError("Missing backup_timestamp property")
        if unknown:
            raise StatementSemanticError(f"Unknown restore job properties: {_java_key_set(unknown)}")

        return ast.Restore(
            snapshot_db_prefix=prefix_db,
            label=label,
            repo=_ident(_subtree(node, "ident")),  # type: ignore[arg-type]
            database=database,
            database_alias=alias,
            objects=objects,
            external_catalogs=catalogs,  # type: ignore[arg-type]
            properties=props,
            backup_timestamp=backup_timestamp,
            replication_num=replication_num,
            timeout_s=timeout_s,
            allow_load=allow_load,
            meta_version=meta_version,
            starrocks_meta_version=sr_meta_version,
        )

    # -------------------------------------------------------------- CANCEL / SHOW

    def _cancel(self, node: Tree) -> tuple[str | None, bool]:
        target = _subtree(node, "cancel_target")
        if target is not None:
            return self._from_db(target), False
        return None, _subtree(node, "for_catalog") is not None

    def _cancel_backup(self, node: Tree) -> ast.CancelBackup:
        db, ext = self._cancel(node)
        return ast.CancelBackup(db=db, external_catalog=ext)

    def _cancel_restore(self, node: Tree) -> ast.CancelRestore:
        db, ext = self._cancel(node)
        return ast.CancelRestore(db=db, external_catalog=ext)

    def _show_backup(self, node: Tree) -> ast.ShowBackup:
        return ast.ShowBackup(db=self._from_db(node), **self._show_tail(node))  # type: ignore[arg-type]

    def _show_restore(self, node: Tree) -> ast.ShowRestore:
        return ast.ShowRestore(db=self._from_db(node), **self._show_tail(node))  # type: ignore[arg-type]

    def _show_snapshot(self, node: Tree) -> ast.ShowSnapshot:
        tail = self._show_tail(node)
        names: list[str] = []
        timestamp: str | None = None
        where_tree = None
        tail_node = _subtree(node, "show_tail")
        if tail_node is not None and (w := _subtree(tail_node, "where_clause")) is not None:
            where_tree = w.children[1]
        if where_tree is not None:
            names, timestamp = _analyze_snapshot_where(where_tree)
            for name in names:
                _path_part("snapshot", name)
            if timestamp is not None:
                _path_part("backup_timestamp", timestamp)
        return ast.ShowSnapshot(
            repo=_ident(_subtree(node, "ident")),  # type: ignore[arg-type]
            snapshot_names=tuple(names),
            timestamp=timestamp,
            **tail,  # type: ignore[arg-type]
        )

    # -------------------------------------------------------------- views

    @staticmethod
    def _view_columns(node: Tree) -> tuple[ast.ViewColumn, ...]:
        cols = _subtree(node, "view_columns")
        if cols is None:
            return ()
        out = []
        for col in _subtrees(cols, "view_column"):
            comment = _subtree(col, "comment")
            out.append(
                ast.ViewColumn(
                    name=_ident(_subtree(col, "ident")),  # type: ignore[arg-type]
                    comment=_string(_subtree(comment, "string")) if comment is not None else None,  # type: ignore[arg-type]
                )
            )
        return tuple(out)

    @staticmethod
    def _comment(node: Tree) -> str | None:
        comment = _subtree(node, "comment")
        return _string(_subtree(comment, "string")) if comment is not None else None  # type: ignore[arg-type]

    @staticmethod
    def _query(node: Tree) -> str:
        tok = _token_of(node, "QUERY")
        as_tok = _token_of(node, "AS")
        if tok is None:
            raise StatementSyntaxError(syntax_error_text(1, 0, "a query is expected after AS"))
        if as_tok is not None and as_tok.end_pos == tok.start_pos and re.match(r"\w", tok.value):
            # `ASSELECT ...`: the lexer cut a keyword off a longer word
            line, col = _line_col_of(as_tok)
            word = re.match(r"\w+", as_tok.value + tok.value)
            raise StatementSyntaxError(syntax_error_text(line, col, unexpected(word.group(0)[:40] if word else "AS",
                                                                          "'AS'")))
        return str(tok.value)

    def _create_view(self, node: Tree) -> ast.CreateView:
        db, name = self._db_and_name(_subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.CreateView(
            db=db,
            name=name,
            query=self._query(node),
            columns=self._view_columns(node),
            comment=self._comment(node),
            if_not_exists=_subtree(node, "if_not_exists") is not None,
            or_replace=_subtree(node, "or_replace") is not None,
        )

    def _alter_view(self, node: Tree) -> ast.AlterView:
        db, name = self._db_and_name(_subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.AlterView(db=db, name=name, query=self._query(node), columns=self._view_columns(node))

    def _drop_view(self, node: Tree) -> ast.DropView:
        db, name = self._db_and_name(_subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.DropView(db=db, name=name, if_exists=_subtree(node, "if_exists") is not None)

    def _show_create_view(self, node: Tree) -> ast.ShowCreateView:
        db, name = self._db_and_name(_subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.ShowCreateView(db=db, name=name)

    # -------------------------------------------------------------- materialized views

    def _create_mv(self, node: Tree) -> ast.CreateMaterializedView:
        db, name = self._db_and_name(_subtree(node, "qname"))  # type: ignore[arg-type]
        distribution: ast.MvDistribution | None = None
        partition_by: str | None = None
        refresh: ast.MvRefresh | None = None
        order_by: tuple[str, ...] = ()
        props: dict[str, str] | None = None
        seen: set[str] = set()
        for clause in node.children:
            if not isinstance(clause, Tree) or clause.data not in (
                "hash_distribution",
                "random_distribution",
                "mv_partition",
                "refresh_scheme",
                "mv_order_by",
                "properties",
            ):
                continue
            key = "distribution" if clause.data.endswith("_distribution") else str(clause.data)
            if key in seen:
                label = {
                    "mv_partition": "PARTITION BY",
                    "refresh_scheme": "REFRESH",
                    "mv_order_by": "ORDER BY",
                }
                raise StatementSemanticError(
                    f"Duplicated {label.get(key, key.upper())} clause in CREATE MATERIALIZED VIEW"
                )
            seen.add(key)
            if key == "distribution":
                buckets = _subtree(clause, "buckets")
                distribution = ast.MvDistribution(
                    kind="HASH" if clause.data == "hash_distribution" else "RANDOM",
                    columns=tuple(_ident(c) for c in _subtrees(clause, "ident")),
                    buckets=int(buckets.children[1]) if buckets is not None else None,  # type: ignore[arg-type]
                )
            elif key == "mv_partition":
                partition_by = self.raw(clause.children[2])
            elif key == "refresh_scheme":
                refresh = self._refresh(clause)
            elif key == "mv_order_by":
                order_by = tuple(_ident(c) for c in _subtrees(clause, "ident"))
            else:
                props = _properties(clause)
        return ast.CreateMaterializedView(
            db=db,
            name=name,
            query=self._query(node),
            if_not_exists=_subtree(node, "if_not_exists") is not None,
            columns=self._view_columns(node),
            comment=self._comment(node),
            distribution=distribution,
            partition_by=partition_by,
            refresh=refresh,
            order_by=order_by,
            properties=props or {},
            synchronous=refresh is None and distribution is None and partition_by is None,
        )

    @staticmethod
    def _refresh(node: Tree) -> ast.MvRefresh:
        moment_node = _subtree(node, "refresh_moment")
        moment = str(moment_node.children[0]).upper() if moment_node is not None else None
        kind = start = unit = None
        every: int | None = None
        for data, name in (
            ("refresh_async", "ASYNC"),
            ("refresh_manual", "MANUAL"),
            ("refresh_incremental", "INCREMENTAL"),
        ):
            sub = _subtree(node, data)
            if sub is None:
                continue
            kind = name
            start_node = _subtree(sub, "async_start")
            if start_node is not None:
                start = _string(_subtree(start_node, "string"))  # type: ignore[arg-type]
            every_node = _subtree(sub, "async_every")
            if every_node is not None:
                every = int(_token_of(every_node, "INT"))  # type: ignore[arg-type]
                unit = _ident(_subtree(every_node, "ident")).upper()  # type: ignore[arg-type]
        return ast.MvRefresh(
            moment=moment,  # type: ignore[arg-type]
            kind=kind,  # type: ignore[arg-type]
            start=start,
            every_value=every,
            every_unit=unit,
        )

    def _drop_mv(self, node: Tree) -> ast.DropMaterializedView:
        db, name = self._db_and_name(_subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.DropMaterializedView(db=db, name=name, if_exists=_subtree(node, "if_exists") is not None)

    def _alter_mv(self, node: Tree) -> ast.AlterMaterializedView:
        db, name = self._db_and_name(_subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.AlterMaterializedView(db=db, name=name, active=_has_token(node, "ACTIVE"))

    def _refresh_mv(self, node: Tree) -> ast.RefreshMaterializedView:
        db, name = self._db_and_name(_subtree(node, "qname"))  # type: ignore[arg-type]
        mode = _subtree(node, "sync_mode")
        return ast.RefreshMaterializedView(
            db=db,
            name=name,
            sync_mode=mode is not None and _has_token(mode, "SYNC"),
            force=_subtree(node, "force") is not None,
        )

    def _show_mvs(self, node: Tree) -> ast.ShowMaterializedViews:
        where = _subtree(node, "where_clause")
        where_raw = where_name = None
        if where is not None:
            expr = where.children[1]
            where_raw = self.raw(expr)
            if isinstance(expr, Tree) and expr.data == "eq_pred":
                left, right = expr.children
                if (
                    isinstance(left, Tree)
                    and left.data == "column_ref"
                    and _qname_parts(left.children[0])[-1].upper() == "NAME"  # type: ignore[arg-type]
                    and isinstance(right, Tree)
                    and right.data == "string_lit"
                ):
                    where_name = unquote_string(right.children[0])  # type: ignore[arg-type]
        return ast.ShowMaterializedViews(
            db=self._from_db(node), like=self._like(node), where_name=where_name, where=where_raw
        )

    def _show_create_mv(self, node: Tree) -> ast.ShowCreateMaterializedView:
        db, name = self._db_and_name(_subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.ShowCreateMaterializedView(db=db, name=name)

    # -------------------------------------------------------------- functions

    @staticmethod
    def _type_text(node: Tree) -> str:
        base = _ident(node.children[0]).upper()  # type: ignore[arg-type]
        if node.data == "nested_type":
            inner = ",".join(_Builder._type_text(c) for c in node.children[1:] if isinstance(c, Tree))
            return f"{base}<{inner}>"
        params = _subtree(node, "type_params")
        if params is not None:
            return base + "(" + ",".join(str(int(c)) for c in params.children if isinstance(c, Token)) + ")"
        return base

    def _arg_types(self, node: Tree) -> tuple[tuple[str, ...], bool]:
        args = _subtree(node, "arg_types")
        if args is None:
            return (), False
        types = tuple(
            self._type_text(c)
            for c in args.children
            if isinstance(c, Tree) and c.data in ("type_spec", "nested_type")
        )
        return types, _subtree(args, "varargs") is not None

    def _create_function(self, node: Tree) -> ast.CreateFunction:
        db, name = self._db_and_name(_subtree(node, "qname"), "function")  # type: ignore[arg-type]
        arg_types, varargs = self._arg_types(node)
        ret = [c for c in node.children if isinstance(c, Tree) and c.data in ("type_spec", "nested_type")]
        inter = _subtree(node, "intermediate")
        kind_node = _subtree(node, "function_kind")
        body_node = _subtree(node, "function_body")
        body = None
        if body_node is not None:
            body = str(_token_of(body_node, "DOLLAR_BODY"))[2:-2]
        return ast.CreateFunction(
            db=db,
            name=name,
            arg_types=arg_types,
            return_type=self._type_text(ret[0]),
            is_global=_subtree(node, "global_kw") is not None,
            kind=str(kind_node.children[0]).upper() if kind_node is not None else "SCALAR",  # type: ignore[arg-type]
            if_not_exists=_subtree(node, "if_not_exists") is not None,
            varargs=varargs,
            intermediate_type=self._type_text(inter.children[1]) if inter is not None else None,  # type: ignore[arg-type]
            properties=_properties(_subtree(node, "properties")),
            body=body,
        )

    def _drop_function(self, node: Tree) -> ast.DropFunction:
        db, name = self._db_and_name(_subtree(node, "qname"), "function")  # type: ignore[arg-type]
        arg_types, varargs = self._arg_types(node)
        return ast.DropFunction(
            db=db,
            name=name,
            arg_types=arg_types,
            is_global=_subtree(node, "global_kw") is not None,
            if_exists=_subtree(node, "if_exists") is not None,
            varargs=varargs,
        )

    def _show_functions(self, node: Tree) -> ast.ShowFunctions:
        return ast.ShowFunctions(
            db=self._from_db(node),
            full=_subtree(node, "full_kw") is not None,
            is_global=_subtree(node, "global_kw") is not None,
            like=self._like(node),
        )

    # -------------------------------------------------------------- catalogs / config

    def _create_catalog(self, node: Tree) -> ast.CreateExternalCatalog:
        return ast.CreateExternalCatalog(
            name=_ident(_subtree(node, "ident")),  # type: ignore[arg-type]
            properties=_properties(_subtree(node, "properties")),
            if_not_exists=_subtree(node, "if_not_exists") is not None,
            comment=self._comment(node),
        )

    def _drop_catalog(self, node: Tree) -> ast.DropCatalog:
        return ast.DropCatalog(
            name=_ident(_subtree(node, "ident")),  # type: ignore[arg-type]
            if_exists=_subtree(node, "if_exists") is not None,
        )

    def _show_catalogs(self, node: Tree) -> ast.ShowCatalogs:
        return ast.ShowCatalogs()

    def _show_create_catalog(self, node: Tree) -> ast.ShowCreateCatalog:
        return ast.ShowCreateCatalog(name=_ident(_subtree(node, "ident")))  # type: ignore[arg-type]

    def _admin_set_config(self, node: Tree) -> ast.AdminSetFrontendConfig:
        prop = _subtree(node, "property")
        key, value = (c for c in prop.children if isinstance(c, Tree))  # type: ignore[union-attr]
        return ast.AdminSetFrontendConfig(key=_string(key), value=_string(value))

    def _admin_show_config(self, node: Tree) -> ast.AdminShowFrontendConfig:
        return ast.AdminShowFrontendConfig(like=self._like(node))


# ---------------------------------------------------------------------------------------- SHOW SNAPSHOT WHERE


def _snapshot_sub_expr(expr: Tree | Token, state: dict[str, str]) -> bool:
    """ShowSnapshotAnalyzer.analyzeSubExpr: `<column> <op> '<string>'`, column snapshot/timestamp."""
    if not isinstance(expr, Tree) or expr.data not in ("eq_pred", "cmp_pred"):
        return False
    operands = [c for c in expr.children if isinstance(c, Tree)]
    key, val = operands[0], operands[-1]
    if key.data != "column_ref" or val.data != "string_lit":
        return False
    column = _qname_parts(key.children[0])[-1].lower()  # type: ignore[arg-type]
    value = unquote_string(val.children[0])  # type: ignore[arg-type]
    if column not in ("snapshot", "timestamp") or not value:
        return False
    state[column] = value
    return True


def _analyze_snapshot_where(expr: Tree | Token) -> tuple[list[str], str | None]:
    state: dict[str, str] = {}
    names: list[str] = []
    ok = True
    if isinstance(expr, Tree) and expr.data in ("eq_pred", "cmp_pred"):
        ok = _snapshot_sub_expr(expr, state)
    elif isinstance(expr, Tree) and expr.data == "and_pred":
        left, right = expr.children[0], expr.children[-1]
        ok = _snapshot_sub_expr(left, state) and _snapshot_sub_expr(right, state)
    elif isinstance(expr, Tree) and expr.data == "in_pred" and _subtree(expr, "not_kw") is None:
        operands = [c for c in expr.children if isinstance(c, Tree)]
        left, values = operands[0], operands[1:]
        if left.data != "column_ref" or _qname_parts(left.children[0])[-1].lower() != "snapshot":  # type: ignore[arg-type]
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
