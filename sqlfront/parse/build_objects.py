"""Typed statements for views, materialized views, functions, external catalogs and ADMIN ... FRONTEND CONFIG."""

from __future__ import annotations

import re

from lark import Token, Tree

from sqlfront.parse import ast
from sqlfront.parse.build import Builder
from sqlfront.parse.errors import StatementSemanticError, StatementSyntaxError, syntax_error_text, unexpected
from sqlfront.parse.lexical import unquote_string
from sqlfront.parse.tree import (
    has_token,
    ident,
    line_col_of,
    properties,
    qname_parts,
    string,
    subtree,
    subtrees,
    token_of,
)


class ObjectStatements(Builder):
    @staticmethod
    def _view_columns(node: Tree[Token]) -> tuple[ast.ViewColumn, ...]:
        cols = subtree(node, "view_columns")
        if cols is None:
            return ()
        out = []
        for col in subtrees(cols, "view_column"):
            comment = subtree(col, "comment")
            out.append(
                ast.ViewColumn(
                    name=ident(subtree(col, "ident")),  # type: ignore[arg-type]
                    comment=string(subtree(comment, "string")) if comment is not None else None,  # type: ignore[arg-type]
                )
            )
        return tuple(out)

    @staticmethod
    def _comment(node: Tree[Token]) -> str | None:
        comment = subtree(node, "comment")
        return string(subtree(comment, "string")) if comment is not None else None  # type: ignore[arg-type]

    @staticmethod
    def _query(node: Tree[Token]) -> str:
        tok = token_of(node, "QUERY")
        as_tok = token_of(node, "AS")
        if tok is None:
            raise StatementSyntaxError(syntax_error_text(1, 0, "a query is expected after AS"))
        if as_tok is not None and as_tok.end_pos == tok.start_pos and re.match(r"\w", tok.value):
            # `ASSELECT ...`: the lexer cut a keyword off a longer word
            line, col = line_col_of(as_tok)
            word = re.match(r"\w+", as_tok.value + tok.value)
            raise StatementSyntaxError(syntax_error_text(line, col, unexpected(word.group(0)[:40] if word else "AS",
                                                                          "'AS'")))
        return str(tok.value)

    def _create_view(self, node: Tree[Token]) -> ast.CreateView:
        db, name = self._db_and_name(subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.CreateView(
            db=db,
            name=name,
            query=self._query(node),
            columns=self._view_columns(node),
            comment=self._comment(node),
            if_not_exists=subtree(node, "if_not_exists") is not None,
            or_replace=subtree(node, "or_replace") is not None,
        )

    def _alter_view(self, node: Tree[Token]) -> ast.AlterView:
        db, name = self._db_and_name(subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.AlterView(db=db, name=name, query=self._query(node), columns=self._view_columns(node))

    def _drop_view(self, node: Tree[Token]) -> ast.DropView:
        db, name = self._db_and_name(subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.DropView(db=db, name=name, if_exists=subtree(node, "if_exists") is not None)

    def _show_create_view(self, node: Tree[Token]) -> ast.ShowCreateView:
        db, name = self._db_and_name(subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.ShowCreateView(db=db, name=name)

    # -------------------------------------------------------------- materialized views

    def _create_mv(self, node: Tree[Token]) -> ast.CreateMaterializedView:
        db, name = self._db_and_name(subtree(node, "qname"))  # type: ignore[arg-type]
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
                buckets = subtree(clause, "buckets")
                distribution = ast.MvDistribution(
                    kind="HASH" if clause.data == "hash_distribution" else "RANDOM",
                    columns=tuple(ident(c) for c in subtrees(clause, "ident")),
                    buckets=int(buckets.children[1]) if buckets is not None else None,  # type: ignore[arg-type]
                )
            elif key == "mv_partition":
                partition_by = self.raw(clause.children[2])
            elif key == "refresh_scheme":
                refresh = self._refresh(clause)
            elif key == "mv_order_by":
                order_by = tuple(ident(c) for c in subtrees(clause, "ident"))
            else:
                props = properties(clause)
        return ast.CreateMaterializedView(
            db=db,
            name=name,
            query=self._query(node),
            if_not_exists=subtree(node, "if_not_exists") is not None,
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
    def _refresh(node: Tree[Token]) -> ast.MvRefresh:
        moment_node = subtree(node, "refresh_moment")
        moment = str(moment_node.children[0]).upper() if moment_node is not None else None
        kind = start = unit = None
        every: int | None = None
        for data, name in (
            ("refresh_async", "ASYNC"),
            ("refresh_manual", "MANUAL"),
            ("refresh_incremental", "INCREMENTAL"),
        ):
            sub = subtree(node, data)
            if sub is None:
                continue
            kind = name
            start_node = subtree(sub, "async_start")
            if start_node is not None:
                start = string(subtree(start_node, "string"))  # type: ignore[arg-type]
            every_node = subtree(sub, "async_every")
            if every_node is not None:
                every = int(token_of(every_node, "INT"))  # type: ignore[arg-type]
                unit = ident(subtree(every_node, "ident")).upper()  # type: ignore[arg-type]
        return ast.MvRefresh(
            moment=moment,  # type: ignore[arg-type]
            kind=kind,  # type: ignore[arg-type]
            start=start,
            every_value=every,
            every_unit=unit,
        )

    def _drop_mv(self, node: Tree[Token]) -> ast.DropMaterializedView:
        db, name = self._db_and_name(subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.DropMaterializedView(db=db, name=name, if_exists=subtree(node, "if_exists") is not None)

    def _alter_mv(self, node: Tree[Token]) -> ast.AlterMaterializedView:
        db, name = self._db_and_name(subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.AlterMaterializedView(db=db, name=name, active=has_token(node, "ACTIVE"))

    def _refresh_mv(self, node: Tree[Token]) -> ast.RefreshMaterializedView:
        db, name = self._db_and_name(subtree(node, "qname"))  # type: ignore[arg-type]
        mode = subtree(node, "sync_mode")
        return ast.RefreshMaterializedView(
            db=db,
            name=name,
            sync_mode=mode is not None and has_token(mode, "SYNC"),
            force=subtree(node, "force") is not None,
        )

    def _show_mvs(self, node: Tree[Token]) -> ast.ShowMaterializedViews:
        where = subtree(node, "where_clause")
        where_raw = where_name = None
        if where is not None:
            expr = where.children[1]
            where_raw = self.raw(expr)
            if isinstance(expr, Tree) and expr.data == "eq_pred":
                left, right = expr.children
                if (
                    isinstance(left, Tree)
                    and left.data == "column_ref"
                    and qname_parts(left.children[0])[-1].upper() == "NAME"  # type: ignore[arg-type]
                    and isinstance(right, Tree)
                    and right.data == "string_lit"
                ):
                    where_name = unquote_string(right.children[0])  # type: ignore[arg-type]
        return ast.ShowMaterializedViews(
            db=self._from_db(node), like=self._like(node), where_name=where_name, where=where_raw
        )

    def _show_create_mv(self, node: Tree[Token]) -> ast.ShowCreateMaterializedView:
        db, name = self._db_and_name(subtree(node, "qname"))  # type: ignore[arg-type]
        return ast.ShowCreateMaterializedView(db=db, name=name)

    # -------------------------------------------------------------- functions

    @staticmethod
    def _type_text(node: Tree[Token]) -> str:
        base = ident(node.children[0]).upper()  # type: ignore[arg-type]
        if node.data == "nested_type":
            inner = ",".join(ObjectStatements._type_text(c) for c in node.children[1:] if isinstance(c, Tree))
            return f"{base}<{inner}>"
        params = subtree(node, "type_params")
        if params is not None:
            return base + "(" + ",".join(str(int(c)) for c in params.children if isinstance(c, Token)) + ")"
        return base

    def _arg_types(self, node: Tree[Token]) -> tuple[tuple[str, ...], bool]:
        args = subtree(node, "arg_types")
        if args is None:
            return (), False
        types = tuple(
            self._type_text(c)
            for c in args.children
            if isinstance(c, Tree) and c.data in ("type_spec", "nested_type")
        )
        return types, subtree(args, "varargs") is not None

    def _create_function(self, node: Tree[Token]) -> ast.CreateFunction:
        db, name = self._db_and_name(subtree(node, "qname"), "function")  # type: ignore[arg-type]
        arg_types, varargs = self._arg_types(node)
        ret = [c for c in node.children if isinstance(c, Tree) and c.data in ("type_spec", "nested_type")]
        inter = subtree(node, "intermediate")
        kind_node = subtree(node, "function_kind")
        body_node = subtree(node, "function_body")
        body = None
        if body_node is not None:
            body = str(token_of(body_node, "DOLLAR_BODY"))[2:-2]
        return ast.CreateFunction(
            db=db,
            name=name,
            arg_types=arg_types,
            return_type=self._type_text(ret[0]),
            is_global=subtree(node, "global_kw") is not None,
            kind=str(kind_node.children[0]).upper() if kind_node is not None else "SCALAR",  # type: ignore[arg-type]
            if_not_exists=subtree(node, "if_not_exists") is not None,
            varargs=varargs,
            intermediate_type=self._type_text(inter.children[1]) if inter is not None else None,  # type: ignore[arg-type]
            properties=properties(subtree(node, "properties")),
            body=body,
        )

    def _drop_function(self, node: Tree[Token]) -> ast.DropFunction:
        db, name = self._db_and_name(subtree(node, "qname"), "function")  # type: ignore[arg-type]
        arg_types, varargs = self._arg_types(node)
        return ast.DropFunction(
            db=db,
            name=name,
            arg_types=arg_types,
            is_global=subtree(node, "global_kw") is not None,
            if_exists=subtree(node, "if_exists") is not None,
            varargs=varargs,
        )

    def _show_functions(self, node: Tree[Token]) -> ast.ShowFunctions:
        return ast.ShowFunctions(
            db=self._from_db(node),
            full=subtree(node, "full_kw") is not None,
            is_global=subtree(node, "global_kw") is not None,
            like=self._like(node),
        )

    # -------------------------------------------------------------- catalogs / config

    def _create_catalog(self, node: Tree[Token]) -> ast.CreateExternalCatalog:
        return ast.CreateExternalCatalog(
            name=ident(subtree(node, "ident")),  # type: ignore[arg-type]
            properties=properties(subtree(node, "properties")),
            if_not_exists=subtree(node, "if_not_exists") is not None,
            comment=self._comment(node),
        )

    def _drop_catalog(self, node: Tree[Token]) -> ast.DropCatalog:
        return ast.DropCatalog(
            name=ident(subtree(node, "ident")),  # type: ignore[arg-type]
            if_exists=subtree(node, "if_exists") is not None,
        )

    def _show_catalogs(self, node: Tree[Token]) -> ast.ShowCatalogs:
        return ast.ShowCatalogs()

    def _show_create_catalog(self, node: Tree[Token]) -> ast.ShowCreateCatalog:
        return ast.ShowCreateCatalog(name=ident(subtree(node, "ident")))  # type: ignore[arg-type]

    def _admin_set_config(self, node: Tree[Token]) -> ast.AdminSetFrontendConfig:
        prop = subtree(node, "property")
        key, value = (c for c in prop.children if isinstance(c, Tree))  # type: ignore[union-attr]
        return ast.AdminSetFrontendConfig(key=string(key), value=string(value))

    def _admin_show_config(self, node: Tree[Token]) -> ast.AdminShowFrontendConfig:
        return ast.AdminShowFrontendConfig(like=self._like(node))
