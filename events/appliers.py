"""How each catalog event changes the cluster state (the `evolve` half of the catalog; its table of
appliers is merged with the jobs' by events/fold.py)."""

from __future__ import annotations

from typing import Any

from events.model import (
    Backend,
    Database,
    ExternalCatalog,
    Function,
    Index,
    Partition,
    Repository,
    Rowset,
    Table,
    Tablet,
)
from events.password import native_password_hash
from events.plain import load
from events.state import Applier, ClusterState

Data = dict[str, Any]


def _db(state: ClusterState, db_id: int) -> Database:
    db = state.database_by_id(db_id)
    assert db is not None, f"event names unknown database id {db_id}"
    return db


def _table(state: ClusterState, db_id: int, table_id: int) -> Table:
    db = _db(state, db_id)
    table = next((t for t in db.tables.values() if t.id == table_id), None)
    assert table is not None, f"event names unknown table id {table_id}"
    return table


def _add_tablets(state: ClusterState, tablets: list[Data]) -> None:
    for t in tablets:
        tablet = load(Tablet, t)
        state.tablets[tablet.id] = tablet


def _retire_partition_tablets(state: ClusterState, partition: Partition) -> None:
    for ids in partition.tablets.values():
        state.garbage_tablets.extend(ids)


def _cluster_initialized(state: ClusterState, d: Data) -> None:
    for b in d["backends"]:
        backend = load(Backend, b)
        state.backends[backend.id] = backend
    # v2 stores the mysql_native_password hash; v1 stored the password in clear: fold it to its hash.
    state.root_password_hash = d.get("root_password_hash") or native_password_hash(d.get("root_password", ""))


def _root_password_set(state: ClusterState, d: Data) -> None:
    state.root_password_hash = d["root_password_hash"]


def _config_set(state: ClusterState, d: Data) -> None:
    state.config[d["key"]] = d["value"]


def _database_created(state: ClusterState, d: Data) -> None:
    state.databases[d["name"]] = Database(id=d["id"], name=d["name"])


def _database_dropped(state: ClusterState, d: Data) -> None:
    db = _db(state, d["id"])
    for table in db.tables.values():
        for p in table.partitions.values():
            _retire_partition_tablets(state, p)
    del state.databases[db.name]


def _table_created(state: ClusterState, d: Data) -> None:
    table = load(Table, d["table"])
    _add_tablets(state, d.get("tablets", []))
    _db(state, d["db_id"]).tables[table.name] = table


def _table_dropped(state: ClusterState, d: Data) -> None:
    db = _db(state, d["db_id"])
    table = _table(state, d["db_id"], d["table_id"])
    for p in table.partitions.values():
        _retire_partition_tablets(state, p)
    del db.tables[table.name]


def _table_altered(state: ClusterState, d: Data) -> None:
    """Replace a view's or MV's definition, or rename: the new table object replaces the old one."""
    db = _db(state, d["db_id"])
    old = _table(state, d["db_id"], d["table_id"])
    new = load(Table, d["table"])
    del db.tables[old.name]
    db.tables[new.name] = new


def _partition_added(state: ClusterState, d: Data) -> None:
    table = _table(state, d["db_id"], d["table_id"])
    partition = load(Partition, d["partition"])
    _add_tablets(state, d.get("tablets", []))
    table.partitions[partition.name] = partition


def _partition_dropped(state: ClusterState, d: Data) -> None:
    table = _table(state, d["db_id"], d["table_id"])
    partition = table.partition_by_id(d["partition_id"])
    assert partition is not None
    _retire_partition_tablets(state, partition)
    del table.partitions[partition.name]


def _partition_truncated(state: ClusterState, d: Data) -> None:
    """Truncate swaps in new empty tablets and bumps the version, so snapshots of old ones stay valid."""
    table = _table(state, d["db_id"], d["table_id"])
    partition = table.partition_by_id(d["partition_id"])
    assert partition is not None
    _retire_partition_tablets(state, partition)
    _add_tablets(state, d["tablets"])
    partition.tablets = {int(k): list(v) for k, v in d["index_tablets"].items()}
    partition.visible_version += 1


def _load_committed(state: ClusterState, d: Data) -> None:
    table = _table(state, d["db_id"], d["table_id"])
    for part in d["partitions"]:
        partition = table.partition_by_id(part["partition_id"])
        assert partition is not None
        partition.visible_version = part["version"]
        for r in part["rowsets"]:
            state.tablets[r["tablet_id"]].rowsets.append(
                Rowset(version=part["version"], file=r["file"], rows=r["rows"], size=r["size"], md5=r.get("md5", ""),
                       xxh3=r.get("xxh3", ""))
            )


def _index_added(state: ClusterState, d: Data) -> None:
    """A synchronous MV: a new index with its own tablets in every partition, built from the base rows."""
    table = _table(state, d["db_id"], d["table_id"])
    index = load(Index, d["index"])
    table.indexes[index.id] = index
    _add_tablets(state, d["tablets"])
    for pid, tablet_ids in d["partition_tablets"].items():
        partition = table.partition_by_id(int(pid))
        assert partition is not None
        partition.tablets[index.id] = list(tablet_ids)


def _index_dropped(state: ClusterState, d: Data) -> None:
    table = _table(state, d["db_id"], d["table_id"])
    del table.indexes[d["index_id"]]
    for partition in table.partitions.values():
        state.garbage_tablets.extend(partition.tablets.pop(d["index_id"], []))


def _mv_state_changed(state: ClusterState, d: Data) -> None:
    table = _table(state, d["db_id"], d["table_id"])
    assert table.mv is not None
    table.mv.is_active = d["is_active"]
    table.mv.inactive_reason = d.get("reason", "")
    if "base_tables" in d:
        table.mv.base_tables = d["base_tables"]


def _mv_refreshed(state: ClusterState, d: Data) -> None:
    """A refresh replaces the MV's tablets with newly written ones in one step."""
    table = _table(state, d["db_id"], d["table_id"])
    assert table.mv is not None
    table.mv.last_refresh_state = d["state"]
    table.mv.last_refresh_time_ns = d["time_ns"]
    if "start_ns" in d:
        table.mv.last_refresh_start_ns = d["start_ns"]
    table.mv.last_refresh_error = d.get("error", "")
    if d["state"] != "SUCCESS":
        return
    _add_tablets(state, d["tablets"])
    for pid, tablet_ids in d["partition_tablets"].items():
        partition = table.partition_by_id(int(pid))
        assert partition is not None
        state.garbage_tablets.extend(partition.tablets.get(table.base_index_id, []))
        partition.tablets[table.base_index_id] = list(tablet_ids)
        partition.visible_version += 1


def _function_created(state: ClusterState, d: Data) -> None:
    _db(state, d["db_id"]).functions.append(load(Function, d["function"]))


def _function_dropped(state: ClusterState, d: Data) -> None:
    db = _db(state, d["db_id"])
    db.functions = [f for f in db.functions if f.signature != d["signature"]]


def _catalog_created(state: ClusterState, d: Data) -> None:
    catalog = load(ExternalCatalog, d["catalog"])
    state.catalogs[catalog.name] = catalog


def _catalog_dropped(state: ClusterState, d: Data) -> None:
    state.catalogs.pop(d["name"], None)


def _repository_created(state: ClusterState, d: Data) -> None:
    repo = load(Repository, d["repository"])
    state.repositories[repo.name] = repo


def _repository_dropped(state: ClusterState, d: Data) -> None:
    state.repositories.pop(d["name"], None)


def _repository_status(state: ClusterState, d: Data) -> None:
    repo = state.repositories.get(d["name"])
    if repo is not None:
        repo.err_msg = d["err_msg"]


def _tablets_collected(state: ClusterState, d: Data) -> None:
    gone = set(d["tablet_ids"])
    state.garbage_tablets = [t for t in state.garbage_tablets if t not in gone]
    for tid in gone:
        state.tablets.pop(tid, None)


APPLIERS: dict[str, Applier] = {
    "cluster.initialized": _cluster_initialized,
    "root_password.set": _root_password_set,
    "config.set": _config_set,
    "database.created": _database_created,
    "database.dropped": _database_dropped,
    "table.created": _table_created,
    "table.dropped": _table_dropped,
    "table.altered": _table_altered,
    "partition.added": _partition_added,
    "partition.dropped": _partition_dropped,
    "partition.truncated": _partition_truncated,
    "load.committed": _load_committed,
    "index.added": _index_added,
    "index.dropped": _index_dropped,
    "mv.state_changed": _mv_state_changed,
    "mv.refreshed": _mv_refreshed,
    "function.created": _function_created,
    "function.dropped": _function_dropped,
    "catalog.created": _catalog_created,
    "catalog.dropped": _catalog_dropped,
    "repository.created": _repository_created,
    "repository.dropped": _repository_dropped,
    "repository.status": _repository_status,
    "tablets.garbage_collected": _tablets_collected,
}
