"""The statement builders' shared pieces: raw text of a span, names, FROM db, LIKE, ON (...) objects, and
SHOW's WHERE/ORDER BY/LIMIT tail."""

from __future__ import annotations

from lark import Token, Tree

from sqlfront.parse import ast
from sqlfront.parse.errors import StatementSemanticError
from sqlfront.parse.tree import (
    OBJECT_KINDS,
    ident,
    ident_or_string,
    qname_parts,
    span,
    string,
    subtree,
    subtrees,
)


class Builder:
    """Builds a typed statement from the tree of one statement; `text` is the statement (for raw spans)."""

    def __init__(self, text: str):
        self.text = text

    def raw(self, node: Tree[Token] | Token) -> str:
        start, end = span(node)
        return self.text[start:end]

    # -------------------------------------------------------------- shared pieces

    @staticmethod
    def _db_and_name(node: Tree[Token], what: str = "table") -> tuple[str | None, str]:
        parts = qname_parts(node)
        if len(parts) == 1:
            return None, parts[0]
        if len(parts) == 2:
            return parts[0], parts[1]
        raise StatementSemanticError(f"Invalid {what} name: {'.'.join(parts)}")

    @staticmethod
    def _from_db(node: Tree[Token]) -> str | None:
        sub = subtree(node, "from_db")
        return ident(subtree(sub, "ident")) if sub is not None else None  # type: ignore[arg-type]

    @staticmethod
    def _like(node: Tree[Token]) -> str | None:
        sub = subtree(node, "like")
        return string(subtree(sub, "string")) if sub is not None else None  # type: ignore[arg-type]

    def _objects(self, node: Tree[Token]) -> tuple[ast.BackupObject, ...]:
        on = subtree(node, "on_clause")
        if on is None:
            return ()
        objects = []
        for obj in on.children:
            if not isinstance(obj, Tree):
                continue
            kind = OBJECT_KINDS[str(obj.data)]
            if obj.data.startswith("all_"):
                objects.append(ast.BackupObject(kind=kind, name=None))
                continue
            name = qname_parts(subtree(obj, "qname"))[-1]  # type: ignore[arg-type]
            alias_node = subtree(obj, "alias")
            alias = ident(alias_node.children[1]) if alias_node is not None else None  # type: ignore[arg-type]
            partitions: tuple[str, ...] = ()
            temporary = False
            parts_node = subtree(obj, "partition_names")
            if parts_node is not None:
                temporary = subtree(parts_node, "temporary") is not None
                partitions = tuple(ident_or_string(c) for c in subtrees(parts_node, "ident_or_string"))
            objects.append(
                ast.BackupObject(
                    kind=kind, name=name, partitions=partitions, temporary=temporary, alias=alias
                )
            )
        return tuple(objects)

    def _show_tail(self, node: Tree[Token]) -> dict[str, object]:
        tail = subtree(node, "show_tail")
        out: dict[str, object] = {"where": None, "order_by": None, "limit": None, "offset": None}
        if tail is None:
            return out
        where = subtree(tail, "where_clause")
        if where is not None:
            out["where"] = self.raw(where.children[1])
        order = subtree(tail, "order_clause")
        if order is not None:
            items = subtrees(order, "sort_item")
            out["order_by"] = self.text[span(items[0])[0] : span(items[-1])[1]]
        for data in ("limit_only", "limit_offset_comma", "limit_offset"):
            lim = subtree(tail, data)
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
