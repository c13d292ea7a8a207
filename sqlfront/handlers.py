"""The one table from a statement's type to its handler: `HANDLERS`, built here from the handler modules'
functions (nothing registers itself on import). sqlfront.session looks the parsed statement's type up in it.

A handler is `handler(session, statement) -> (rows, columns)`; ([], []) is an OK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
