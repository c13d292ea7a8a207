"""Reading the lark trees of statements.lark: children by rule name, identifiers, strings, properties, spans."""

from __future__ import annotations

from lark import Token, Tree

from sqlfront.parse import ast
from sqlfront.parse.errors import StatementSyntaxError, syntax_error_text
from sqlfront.parse.lexical import unquote_string


def subtrees(node: Tree[Token], data: str) -> list[Tree[Token]]:
    return [c for c in node.children if isinstance(c, Tree) and c.data == data]


def subtree(node: Tree[Token], data: str) -> Tree[Token] | None:
    for c in node.children:
        if isinstance(c, Tree) and c.data == data:
            return c
    return None


def has_token(node: Tree[Token], *types: str) -> bool:
    return any(isinstance(c, Token) and c.type in types for c in node.children)


def token_of(node: Tree[Token], *types: str) -> Token | None:
    for c in node.children:
        if isinstance(c, Token) and c.type in types:
            return c
    return None


def ident(node: Tree[Token]) -> str:
    tok = node.children[0]
    assert isinstance(tok, Token)
    if tok.type == "BQIDENT":
        return str(tok.value)[1:-1].replace("``", "`")
    return str(tok.value)


def qname_parts(node: Tree[Token]) -> tuple[str, ...]:
    return tuple(ident(c) for c in node.children if isinstance(c, Tree))


def string(node: Tree[Token]) -> str:
    tok = node.children[0]
    if not isinstance(tok, Token):
        raise StatementSyntaxError(syntax_error_text(1, 0, "a string is expected"))
    value = unquote_string(tok.value)
    if "\0" in value:  # a \0 escape: no label, path or property may hold one (it never reaches the file system)
        line, col = line_col_of(tok)
        raise StatementSyntaxError(syntax_error_text(line, col, "a NUL character is not allowed in a string here"))
    return value


def line_col_of(tok: Token) -> tuple[int, int]:
    return tok.line or 1, (tok.column or 1) - 1


def ident_or_string(node: Tree[Token]) -> str:
    inner = node.children[0]
    assert isinstance(inner, Tree)
    return ident(inner) if inner.data == "ident" else string(inner)


def properties(node: Tree[Token] | None) -> dict[str, str]:
    props: dict[str, str] = {}
    if node is None:
        return props
    for prop in subtrees(node, "property"):
        key, value = (c for c in prop.children if isinstance(c, Tree))
        props[string(key)] = string(value)
    return props


def span(node: Tree[Token] | Token) -> tuple[int, int]:
    if isinstance(node, Token):
        return node.start_pos or 0, node.end_pos or 0
    return node.meta.start_pos, node.meta.end_pos


OBJECT_KINDS: dict[str, ast.ObjectKind] = {
    "all_tables": "TABLE",
    "table_obj": "TABLE",
    "all_mvs": "MATERIALIZED_VIEW",
    "mv_obj": "MATERIALIZED_VIEW",
    "all_views": "VIEW",
    "view_obj": "VIEW",
    "all_functions": "FUNCTION",
    "function_obj": "FUNCTION",
}
