"""The analyze stage and the one table from a statement's type to its handler.

`analyze(session, statement)` makes the checks of a parsed statement that need the session (its
variables), apart from parsing: checks that need only the statement's text are the parser's
(StatementSemanticError); checks that need the catalog are the frontend's.

`HANDLERS` is built here from the handler modules' functions (nothing registers itself on import);
sqlfront.session looks the parsed statement's type up in it. A handler is
`handler(session, statement) -> (rows, columns)`; ([], []) is an OK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp

from events.errors import CatalogError
from sqlfront import handlers_backup as backup
from sqlfront import handlers_catalog as catalog
from sqlfront import handlers_ddl as ddl
from sqlfront import handlers_dml as dml
from sqlfront import handlers_objects as objects
from sqlfront import handlers_repo as repo
from sqlfront import handlers_select as select
from sqlfront.handler_base import HandlerSession, Result
from sqlfront.parse import ast as A
from sqlfront.parse import ast_catalog as C
from sqlfront.parse import ast_query as Q
from sqlfront.parse.ast import Statement
from sqlfront.parse.ast_query import Insert, MimicStatement
from sqlfront.variables import check_charset

Handler = Callable[[HandlerSession, Any], Result]

HANDLERS: dict[type[A.Statement], Handler] = {
    # SELECT, INSERT and what mysql-mimic answers
    Q.Select: select.select,
    Q.MimicStatement: select.mimic,
    Q.Insert: dml.insert,
    # databases, tables, partitions, tablets, backends
    C.CreateDatabase: ddl.create_database,
    C.DropDatabase: ddl.drop_database,
    C.ShowDatabases: ddl.show_databases,
    C.Use: ddl.use,
    C.ShowTables: ddl.show_tables,
    C.CreateTable: ddl.create_table,
    C.AlterTablePartitions: ddl.alter_table,
    C.Truncate: ddl.truncate,
    C.DropTable: ddl.drop_table,
    C.ShowCreateTable: ddl.show_create_table,
    C.Describe: ddl.describe,
    C.ShowPartitions: ddl.show_partitions,
    C.ShowTablets: ddl.show_tablets,
    C.ShowBackends: ddl.show_backends,
    # repositories
    A.CreateRepository: repo.create_repository,
    A.DropRepository: repo.drop_repository,
    A.ShowRepositories: repo.show_repositories,
    # BACKUP / RESTORE
    A.Backup: backup.backup,
    A.Restore: backup.restore,
    A.CancelBackup: backup.cancel_backup,
    A.CancelRestore: backup.cancel_restore,
    A.ShowBackup: backup.show_backup,
    A.ShowRestore: backup.show_restore,
    A.ShowSnapshot: backup.show_snapshot,
    # views, materialized views, functions, catalogs, frontend config
    A.CreateView: objects.create_view,
    A.AlterView: objects.alter_view,
    A.DropView: objects.drop_view,
    A.ShowCreateView: objects.show_create_view,
    A.CreateMaterializedView: objects.create_mv,
    A.RefreshMaterializedView: objects.refresh_materialized_view,
    A.DropMaterializedView: objects.drop_mv,
    A.AlterMaterializedView: objects.alter_mv,
    A.ShowMaterializedViews: objects.show_mvs,
    A.ShowCreateMaterializedView: objects.show_create_mv,
    A.CreateFunction: catalog.create_function,
    A.DropFunction: catalog.drop_function,
    A.ShowFunctions: catalog.show_functions,
    A.CreateExternalCatalog: catalog.create_catalog,
    A.DropCatalog: catalog.drop_catalog,
    A.ShowCatalogs: catalog.show_catalogs,
    A.ShowCreateCatalog: catalog.show_create_catalog,
    A.AdminSetFrontendConfig: catalog.admin_set_config,
    A.AdminShowFrontendConfig: catalog.admin_show_config,
}


def analyze(s: HandlerSession, stmt: Statement) -> None:
    """Refuse what the session's state makes wrong before the handler runs."""
    if isinstance(stmt, MimicStatement):
        _mimic(s, stmt)
    elif isinstance(stmt, Insert) and stmt.overwrite:
        raise CatalogError("INSERT OVERWRITE is not supported")


def _mimic(s: HandlerSession, stmt: MimicStatement) -> None:
    """@@variables nobody defines are an error (mysql-mimic would answer NULL), and so are character sets a
    session may not use."""
    for tree in stmt.trees:
        for param in tree.find_all(exp.SessionParameter):
            s.variables.get_schema(param.name)
        if isinstance(tree, exp.Set):
            for item in tree.expressions:
                if isinstance(item, exp.SetItem) and item.text("kind").upper() in ("NAMES", "CHARACTER SET") \
                        and item.name.upper() != "DEFAULT":
                    check_charset(item.name)
