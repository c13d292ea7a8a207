"""The one entry of the parse stage: statement text (comments and hints already blanked by sqltext.prepare)
to a typed statement, or a syntax error.

`parse` tries, in order, each by its statement's leading words:
* the lark statement grammar (`statements.lark`: BACKUP/RESTORE, repositories, views, MVs, functions,
  catalogs, ADMIN), here: `parse_statement` and the builders of the job statements (`JobStatements`:
  repositories, BACKUP, RESTORE, CANCEL, SHOW BACKUP/RESTORE/SNAPSHOT, the statements this project is
  about); the other rules' builders are `build_objects.ObjectStatements`;
* the database and table forms (`sqlfront.parse.ddl`, with the table grammar);
* SELECT, INSERT and mysql-mimic's own statements (`sqlfront.parse.sql`, sqlglot).
StarRocks statements starbackup does not run are refused as unsupported; anything else is a syntax error.

`parse_statement(sql)` returns None when the statement is not one of the lark grammar's (decided cheaply
from its leading keywords, before lark runs), raises StatementSyntaxError (1064) for one that starts like
ours but does not match the grammar, and StatementSemanticError for the analyzer errors StarRocks raises
that can be detected without the catalog (property validation, duplicated tables or aliases, SHOW
SNAPSHOT WHERE shape, a missing `backup_timestamp`...).
"""

from __future__ import annotations

import re

from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from sqlfront.parse import ast, checks, ddl, grammar, sql
from sqlfront.parse.ast import Statement
from sqlfront.parse.build import Builder
from sqlfront.parse.build_objects import ObjectStatements
from sqlfront.parse.errors import (
    StatementError,
    StatementSemanticError,
    StatementSyntaxError,
    syntax_error_text,
    unexpected,
)
from sqlfront.parse.tree import ident, ident_or_string, properties, string, subtree, subtrees

# StarRocks statements starbackup does not run: refused as unsupported rather than as a syntax error.
_UNSUPPORTED_FIRST_WORDS = {
    "UPDATE", "DELETE", "EXPLAIN", "ANALYZE", "LOAD", "EXPORT", "GRANT", "REVOKE", "SUBMIT", "PAUSE", "RESUME",
    "STOP", "RECOVER", "INSTALL", "UNINSTALL", "SYNC", "EXECUTE", "PREPARE", "DEALLOCATE", "TRACE", "CLEAN",
    "UNSET", "CALL", "REPLACE", "LOCK", "UNLOCK", "FLUSH", "OPTIMIZE", "HELP",
}


class UnsupportedStatement(StatementError):
    """A StarRocks statement starbackup does not run (5064)."""


def parse(text: str) -> Statement:
    """The typed statement `text` is; raises StatementError (or CatalogError from sqlglot's errors)."""
    for parse_kind in (parse_statement, ddl.parse_catalog_statement, sql.parse_sql_statement):
        stmt = parse_kind(text)
        if stmt is not None:
            return stmt
    words = text.split()
    word = words[0] if words else text
    if word.upper() in _UNSUPPORTED_FIRST_WORDS:
        raise UnsupportedStatement(f"{word.upper()} statements are not supported by starbackup")
    raise StatementSyntaxError(syntax_error_text(1, 0, unexpected(word[:40], "a legal statement")))


class JobStatements(Builder):
    def _create_repo(self, node: Tree[Token]) -> ast.CreateRepository:
        broker = subtree(node, "broker_name")
        return ast.CreateRepository(
            name=checks.path_part("repository", ident(subtree(node, "ident"))),  # type: ignore[arg-type]
            read_only=subtree(node, "read_only") is not None,
            broker=ident_or_string(broker.children[0]) if broker is not None else None,  # type: ignore[arg-type]
            location=string(subtree(node, "string")),  # type: ignore[arg-type]
            properties=properties(subtree(node, "properties")),
        )

    def _drop_repo(self, node: Tree[Token]) -> ast.DropRepository:
        return ast.DropRepository(name=ident(subtree(node, "ident")))  # type: ignore[arg-type]

    def _show_repos(self, node: Tree[Token]) -> ast.ShowRepositories:
        return ast.ShowRepositories()

    # -------------------------------------------------------------- BACKUP

    def _backup(self, node: Tree[Token]) -> ast.Backup:
        prefix_db, label = self._db_and_name(subtree(node, "qname"), "snapshot")  # type: ignore[arg-type]
        checks.path_part("snapshot", label)
        db_node = subtree(node, "backup_db")
        clause_db = ident(subtree(db_node, "ident")) if db_node is not None else None  # type: ignore[arg-type]
        if clause_db is not None and prefix_db is not None:
            raise StatementSemanticError(
                f"Can not specify the database both by DATABASE {clause_db} and by the snapshot name "
                f"prefix {prefix_db}.{label}"
            )
        catalogs: None | str | tuple[str, ...] = None
        if subtree(node, "all_catalogs") is not None:
            catalogs = "ALL"
        elif (lst := subtree(node, "catalog_list")) is not None:
            catalogs = tuple(ident(c) for c in subtrees(lst, "ident"))
        objects = self._objects(node)
        checks.backup_objects(objects)
        props = properties(subtree(node, "properties"))
        backup_type, type_given, timeout_s = checks.backup_properties(props)

        return ast.Backup(
            db=clause_db if clause_db is not None else prefix_db,
            snapshot=label,
            repo=ident(subtree(node, "ident")),  # type: ignore[arg-type]
            objects=objects,
            external_catalogs=catalogs,  # type: ignore[arg-type]
            properties=props,
            type=backup_type,  # type: ignore[arg-type]
            type_given=type_given,
            timeout_s=timeout_s,
        )

    # -------------------------------------------------------------- RESTORE

    def _restore(self, node: Tree[Token]) -> ast.Restore:
        prefix_db, label = self._db_and_name(subtree(node, "qname"), "snapshot")  # type: ignore[arg-type]
        checks.path_part("snapshot", label)
        db_node = subtree(node, "restore_db")
        database = alias = None
        if db_node is not None:
            names = subtrees(db_node, "ident")
            database = ident(names[0])
            alias = ident(names[1]) if len(names) > 1 else None
        if prefix_db is not None and alias is not None:
            raise StatementSemanticError(
                f"Can not specify the target database both by the snapshot name prefix {prefix_db}.{label} "
                f"and by DATABASE {database} AS {alias}"
            )
        catalogs: None | str | tuple[tuple[str, str | None], ...] = None
        if subtree(node, "all_catalogs") is not None:
            catalogs = "ALL"
        elif (lst := subtree(node, "catalog_alias_list")) is not None:
            pairs = []
            for item in subtrees(lst, "catalog_alias"):
                ids = subtrees(item, "ident")
                pairs.append((ident(ids[0]), ident(ids[1]) if len(ids) > 1 else None))
            catalogs = tuple(pairs)
        objects = self._objects(node)
        checks.restore_objects(objects)
        props = properties(subtree(node, "properties"))
        options = checks.restore_properties(props)

        return ast.Restore(
            snapshot_db_prefix=prefix_db,
            label=label,
            repo=ident(subtree(node, "ident")),  # type: ignore[arg-type]
            database=database,
            database_alias=alias,
            objects=objects,
            external_catalogs=catalogs,  # type: ignore[arg-type]
            properties=props,
            backup_timestamp=options.backup_timestamp,
            replication_num=options.replication_num,
            timeout_s=options.timeout_s,
            allow_load=options.allow_load,
            meta_version=options.meta_version,
            starrocks_meta_version=options.starrocks_meta_version,
        )

    # -------------------------------------------------------------- CANCEL / SHOW

    def _cancel(self, node: Tree[Token]) -> tuple[str | None, bool]:
        target = subtree(node, "cancel_target")
        if target is not None:
            return self._from_db(target), False
        return None, subtree(node, "for_catalog") is not None

    def _cancel_backup(self, node: Tree[Token]) -> ast.CancelBackup:
        db, ext = self._cancel(node)
        return ast.CancelBackup(db=db, external_catalog=ext)

    def _cancel_restore(self, node: Tree[Token]) -> ast.CancelRestore:
        db, ext = self._cancel(node)
        return ast.CancelRestore(db=db, external_catalog=ext)

    def _show_backup(self, node: Tree[Token]) -> ast.ShowBackup:
        return ast.ShowBackup(db=self._from_db(node), **self._show_tail(node))  # type: ignore[arg-type]

    def _show_restore(self, node: Tree[Token]) -> ast.ShowRestore:
        return ast.ShowRestore(db=self._from_db(node), **self._show_tail(node))  # type: ignore[arg-type]

    def _show_snapshot(self, node: Tree[Token]) -> ast.ShowSnapshot:
        tail = self._show_tail(node)
        names: list[str] = []
        timestamp: str | None = None
        where_tree = None
        tail_node = subtree(node, "show_tail")
        if tail_node is not None and (w := subtree(tail_node, "where_clause")) is not None:
            where_tree = w.children[1]
        if where_tree is not None:
            names, timestamp = checks.analyze_snapshot_where(where_tree)
            for name in names:
                checks.path_part("snapshot", name)
            if timestamp is not None:
                checks.path_part("backup_timestamp", timestamp)
        return ast.ShowSnapshot(
            repo=ident(subtree(node, "ident")),  # type: ignore[arg-type]
            snapshot_names=tuple(names),
            timestamp=timestamp,
            **tail,  # type: ignore[arg-type]
        )

    # -------------------------------------------------------------- views


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
    first = tree.children[0]
    assert isinstance(first, Tree)  # the grammar's start rule is one statement rule
    return _Builder(text).build(first)


class _Builder(JobStatements, ObjectStatements):
    """One method per statement rule of statements.lark, named after it (`_backup` builds `backup`)."""

    def build(self, node: Tree[Token]) -> ast.Statement:
        method = getattr(self, "_" + str(node.data))
        statement: ast.Statement = method(node)
        return statement
