"""Typed statements for repositories, BACKUP, RESTORE, CANCEL and SHOW BACKUP/RESTORE/SNAPSHOT."""

from __future__ import annotations

from lark import Token, Tree

from sqlfront.parse import ast, checks
from sqlfront.parse.build import Builder
from sqlfront.parse.errors import StatementSemanticError
from sqlfront.parse.tree import ident, ident_or_string, properties, string, subtree, subtrees


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
