"""RESTORE planning, pure: the `decide` of a RESTORE statement (reference §5 rules).

`submit` checks the snapshot's objects against the catalog and plans everything the commit will publish:
new (shadow) tablets with their replicas and the remote directory each downloads from, the tables,
partitions, views, functions and catalogs to create or overwrite. The job is carried by `restore.submitted`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from events.catalog import bound_key
from events.errors import CatalogError
from events.event import Event
from events.job_common import (
    check_no_running_job,
    is_running,
    status_ok,
    stream,
    timeout_of,
)
from events.job_record import Job
from events.layout import tablet_remote_dir
from events.model import Table
from events.placement import Ids, default_replication, place_replicas
from events.plain import to_plain
from events.state import ClusterState


@dataclass(frozen=True)
class _Source:
    """Where the snapshot's tablet files are: the repository root, the label and the backed-up database id."""

    root: str
    label: str
    db_id: int


def _snapshot_error(label: str, msg: str) -> CatalogError:
    return CatalogError(f"Failed to get info of snapshot '{label}' because: {msg}. Maybe specified wrong backup timestamp")


def submit(state: ClusterState, a: dict[str, Any], now_ns: int) -> list[Event]:
    """Decide a RESTORE. `a` holds the statement's fields plus the snapshot's `info` and `meta` (already
    downloaded and checksum-verified by the session) and the repository `root`."""
    repo = state.repositories.get(a["repo"])
    if repo is None:
        raise CatalogError(f"Repository [{a['repo']}] does not exist")
    info, meta = a["info"], a["meta"]
    ids = Ids(state)
    job_id = ids.take()
    job: Job = {
        "id": job_id, "type": "RESTORE", "label": a["label"], "timestamp": a["timestamp"], "repo": repo.name,
        "state": "PENDING", "allow_load": bool(a.get("allow_load")), "create_time_ns": now_ns,
        "timeout_s": timeout_of(state, a.get("timeout_s")), "meta_prepared_ns": 0, "snapshot_finished_ns": 0,
        "download_finished_ns": 0, "finished_ns": 0, "status": status_ok(), "task_errors": [], "attempts": {},
        "tablets": {}, "locked": [], "cleaned": False,
        "plan": {"create_db": None, "db_id": 0, "tables": [], "views": [], "functions": [], "catalogs": []},
    }
    replication = a.get("replication_num") or default_replication(state)
    job["replication_num"] = replication
    if a.get("external_catalogs") is not None:
        _plan_catalogs(state, job, a, info, meta)
    else:
        _plan_database(state, job, a, info, meta, ids, replication, a["root"])
    return [
        Event("restore.submitted", {"job": job, "next_id": ids.next}, stream=stream(job_id), key=f"restore/{job_id}"),
        Event("restore.state", {"job_id": job_id, "state": "SNAPSHOTING", "meta_prepared_ns": now_ns},
              stream=stream(job_id)),
    ]


def _plan_catalogs(state: ClusterState, job: Job, a: dict[str, Any], info: dict[str, Any], meta: dict[str, Any]) -> None:
    if info.get("database"):
        raise CatalogError(f"This is not a snapshot for external catalog restore, snapshot: {a['label']}")
    if a.get("database"):
        raise CatalogError("Can not specify database for external catalog snapshot")
    check_no_running_job(state, None)
    available = {c["name"]: c for c in meta.get("catalogs", [])}
    wanted: list[tuple[str, str | None]]
    if a["external_catalogs"] == "ALL":
        wanted = [(n, None) for n in sorted(available)]
    else:
        wanted = [(c[0], c[1]) for c in a["external_catalogs"]]
    plan = []
    for name, alias in wanted:
        if name not in available:
            raise CatalogError(f"Can not find restore catalog: {name}")
        if alias == "default_catalog":
            raise CatalogError("Do not support set alias as default catalog for external catalog restore")
        target = alias or name
        if target in state.catalogs:
            raise CatalogError(f"Catalog {target} already exists, rename it with AS or drop it first")
        plan.append({**available[name], "name": target})
    job["db"] = ""
    job["plan"]["catalogs"] = plan
    job["objects_text"] = ", ".join(c["name"] for c in plan)


def _target_db_name(a: dict[str, Any], info: dict[str, Any]) -> str:
    snap_db = info.get("database") or ""
    if not snap_db:
        raise CatalogError(f"Snapshot {a['label']} holds external catalogs only; restore it with EXTERNAL CATALOG(S)")
    if a.get("database") and a["database"] != snap_db:
        raise CatalogError(f"target database: {a['database']} is not existed in snapshot")
    return a.get("database_alias") or a.get("snapshot_db_prefix") or a.get("database") or snap_db


def _select(a: dict[str, Any], meta: dict[str, Any], label: str) -> tuple[list[tuple[dict[str, Any], str, list[str] | None]], list[tuple[dict[str, Any], str]], list[tuple[dict[str, Any], str]]]:
    tables = {t["name"]: t for t in meta.get("tables", [])}
    views = {v["name"]: v for v in meta.get("views", [])}
    functions = meta.get("functions", [])
    objects = a.get("objects") or []
    if not objects:
        return ([(t, t["name"], None) for t in tables.values()], [(v, v["name"]) for v in views.values()],
                [(f, f["name"]) for f in functions])
    sel_t: list[tuple[dict[str, Any], str, list[str] | None]] = []
    sel_v: list[tuple[dict[str, Any], str]] = []
    sel_f: list[tuple[dict[str, Any], str]] = []
    named = {o["name"] for o in objects if o["name"]}
    for o in objects:
        kind, name, alias = o["kind"], o["name"], o.get("alias")
        if kind in ("TABLE", "MATERIALIZED_VIEW"):
            wanted_kind = "OLAP" if kind == "TABLE" else "MATERIALIZED_VIEW"
            if name is None:
                sel_t += [(t, t["name"], None) for t in tables.values() if t["kind"] == wanted_kind and t["name"] not in named]
                continue
            t = tables.get(name)
            if t is None:
                raise CatalogError(f"Table {name} does not exist in snapshot {label}")
            if o.get("temporary"):
                raise CatalogError("Do not support restoring temporary partitions")
            parts = list(o.get("partitions") or []) or None
            for p in parts or []:
                if p not in t["partitions"]:
                    raise CatalogError(f"Partition {p} of table {name} does not exist in snapshot {label}")
            sel_t.append((t, alias or name, parts))
        elif kind == "VIEW":
            if name is None:
                sel_v += [(v, v["name"]) for v in views.values() if v["name"] not in named]
                continue
            v = views.get(name)
            if v is None:
                raise CatalogError(f"Table {name} does not exist in snapshot {label}")
            sel_v.append((v, alias or name))
        elif kind == "FUNCTION":
            if name is None:
                sel_f += [(f, f["name"]) for f in functions if f["name"] not in named]
                continue
            matched = [f for f in functions if f["name"].lower() == name.lower()]
            if not matched:
                raise CatalogError(f"Can not find restore function: {name}")
            sel_f += [(f, alias or f["name"]) for f in matched]
    return sel_t, sel_v, sel_f


def _running_restore_targets(state: ClusterState) -> set[tuple[str, str]]:
    out = set()
    for j in state.jobs.values():
        if j["type"] == "RESTORE" and is_running(j):
            for t in j["plan"]["tables"] + j["plan"]["views"]:
                out.add((j["db"], t["target"]))
    return out


def _plan_database(state: ClusterState, job: Job, a: dict[str, Any], info: dict[str, Any], meta: dict[str, Any],
                   ids: Ids, replication: int, root: str) -> None:
    db_name = _target_db_name(a, info)
    check_no_running_job(state, db_name)
    job["db"] = db_name
    db = state.databases.get(db_name)
    if db is None:
        job["plan"]["create_db"] = {"id": ids.take(), "name": db_name}
        job["plan"]["db_id"] = job["plan"]["create_db"]["id"]
    else:
        job["plan"]["db_id"] = db.id
    tables, views, functions = _select(a, meta, a["label"])
    src_db_id = (meta.get("database") or {}).get("id", 0)
    job["src_db"] = (meta.get("database") or {}).get("name", "")
    job["aliases"] = {t["name"]: target for t, target, _ in tables}
    objects_text = []
    busy = _running_restore_targets(state)
    for t_meta, target, parts in tables:
        if (db_name, target) in busy:
            raise CatalogError(f"Table {target} is being restored by another job")
        existing = db.tables.get(target) if db else None
        entry = _plan_table(state, job, t_meta, target, parts, existing, ids, replication, root, a["label"], src_db_id)
        if entry is None:
            continue
        job["plan"]["tables"].append(entry)
        chosen = [p["name"] for p in entry["partitions"]]
        objects_text.append(target + (f" PARTITIONS [{', '.join(chosen)}]" if t_meta["partition_type"] != "UNPARTITIONED" else ""))
    for v_meta, target in views:
        existing = db.tables.get(target) if db else None
        if existing is not None and existing.kind != "VIEW":
            raise CatalogError(f"Table {target} already exist but is not a view, can not restore view {v_meta['name']}")
        if existing is not None:
            job["locked"].append(existing.id)
        view = copy.deepcopy(v_meta)
        view["name"] = target
        view["id"] = existing.id if existing else ids.take()
        job["plan"]["views"].append({"target": target, "table": view, "replace": existing is not None})
        objects_text.append(target)
    for f_meta, target in functions:
        fn = copy.deepcopy(f_meta)
        fn["name"] = target
        job["plan"]["functions"].append(fn)
        objects_text.append(f"{target}({', '.join(fn['arg_types'])})")
    if not job["plan"]["tables"] and not job["plan"]["views"] and not job["plan"]["functions"]:
        raise CatalogError(f"Nothing to restore from snapshot {a['label']}")
    job["objects_text"] = ", ".join(objects_text)


def _cols_equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("name", "type", "is_key", "aggregation", "nullable")
    return all((a.get(k) or None) == (b.get(k) or None) for k in keys)


def _column_text(c: dict[str, Any]) -> str:
    return f"`{c['name']}` {c['type']}{'' if c.get('nullable', True) else ' NOT NULL'}" + (
        f" {c['aggregation']}" if c.get("aggregation") else "")


def _check_schema(existing: Table, t_meta: dict[str, Any], target: str) -> None:
    """Reference §5.3: an existing table must match the backed-up one, else the restore is refused."""
    mine = to_plain(existing)

    def differ(item: str) -> CatalogError:
        return CatalogError(f"Table {target} already exist but with different schema, errMsg: {item}")

    if existing.kind not in ("OLAP", "MATERIALIZED_VIEW"):
        raise CatalogError(f"Only support restore OLAP table: {target}")
    if existing.state != "NORMAL":
        raise CatalogError(f"Table {target}'s state is not NORMAL: {existing.state}")
    if t_meta["name"] != target:
        raise differ("Table name is inconsistent")
    if mine["kind"] != t_meta["kind"]:
        raise differ("Table type is inconsistent")
    if sorted(i["name"] for i in mine["indexes"].values()) != sorted(
        (i["name"] if i["name"] != t_meta["name"] else target) for i in t_meta["indexes"].values()
    ):
        raise differ("indexName is inconsistent")
    if existing.partition_type != t_meta["partition_type"]:
        raise differ("partition type is inconsistent")
    if [c.lower() for c in existing.partition_columns] != [c.lower() for c in t_meta["partition_columns"]]:
        raise differ("partition columns is inconsistent")
    if existing.distribution_columns != t_meta["distribution_columns"]:
        raise differ("partition distribution col hash is inconsistent")
    if existing.keys_type != t_meta["keys_type"]:
        raise CatalogError(f"Table {target} already exist but with different key type")
    if len(mine["columns"]) != len(t_meta["columns"]):
        raise differ("base schema column count is inconsistent")
    for local, remote in zip(mine["columns"], t_meta["columns"], strict=True):
        if not _cols_equal(local, remote):
            raise CatalogError(
                f"Table {target} already exist but with different schema, column: {_column_text(local)} in existed "
                f"table is different from the column in backup snapshot, column: {_column_text(remote)}"
            )


def _plan_table(state: ClusterState, job: Job, t_meta: dict[str, Any], target: str, parts: list[str] | None,
                existing: Table | None, ids: Ids, replication: int, root: str, label: str, src_db_id: int) -> dict[str, Any] | None:
    chosen = [p for name, p in t_meta["partitions"].items() if parts is None or name in parts]
    index_names = {int(k): v["name"] for k, v in t_meta["indexes"].items()}
    entry: dict[str, Any] = {"target": target, "src_name": t_meta["name"], "action": "create", "partitions": []}
    src = _Source(root, label, src_db_id)
    if existing is not None:
        if existing.kind == "MATERIALIZED_VIEW" and existing.mv is not None and existing.mv.is_active:
            return None  # StarRocks skips an active MV that already exists (reference §5.3.2)
        _check_schema(existing, t_meta, target)
        entry["action"] = "overwrite"
        entry["table_id"] = existing.id
        job["locked"].append(existing.id)
        for p in chosen:
            entry["partitions"].append(_plan_into_existing(state, job, t_meta, target, p, existing, index_names, ids,
                                                           replication, src))
        return entry
    table, new_index_ids = _new_table(job, t_meta, target, ids, replication)
    local_index_by_name = {index_names[old]: new for old, new in new_index_ids.items()}
    entry["table"] = table
    entry["table_id"] = table["id"]
    for p in chosen:
        entry["partitions"].append(_plan_partition(state, job, t_meta, p, ids.take(), "create", index_names,
                                                   local_index_by_name, ids, replication, src))
    return entry


def _plan_into_existing(state: ClusterState, job: Job, t_meta: dict[str, Any], target: str, p: dict[str, Any],
                        existing: Table, index_names: dict[int, str], ids: Ids, replication: int,
                        src: _Source) -> dict[str, Any]:
    """One partition restored into an existing table: over its partition of that name, else added (RANGE)."""
    base_name = t_meta["name"]
    local_index_by_name = {(i.name if i.id != existing.base_index_id else base_name): i.id for i in existing.indexes.values()}
    types = [c["type"] for c in t_meta["columns"] if c["name"].lower() in [x.lower() for x in t_meta["partition_columns"]]]
    local = existing.partitions.get(p["name"])
    if local is not None:
        if existing.partition_type == "RANGE" and (local.lower != p["lower"] or local.upper != p["upper"]):
            if not (local.upper == p["upper"] and bound_key(types, local.lower, False) == bound_key(types, p["lower"], False)):
                raise CatalogError(f"Partition {p['name']} in table {target} has different range with partition in repository")
        if local.replication_num != replication:
            raise CatalogError(
                f"Partition {p['name']} in table {target} has different replication num '{local.replication_num}' "
                f"with partition in repository, which is {replication}"
            )
        if local.buckets != p["buckets"]:
            raise CatalogError(f"Table {target} already exist but with different schema, errMsg: bucket num is inconsistent")
        return _plan_partition(state, job, t_meta, p, local.id, "overwrite", index_names, local_index_by_name, ids,
                               replication, src)
    if existing.partition_type == "RANGE":
        lo, hi = bound_key(types, p["lower"], False), bound_key(types, p["upper"], True)
        for q in existing.partitions.values():
            q_lo, q_hi = bound_key(types, q.lower, False), bound_key(types, q.upper, True)
            if (lo[0], lo[1:]) < (q_hi[0], q_hi[1:]) and (q_lo[0], q_lo[1:]) < (hi[0], hi[1:]):
                raise CatalogError(f"Partition {p['name']} in table {target} has conflict range with existing ranges")
        return _plan_partition(state, job, t_meta, p, ids.take(), "add", index_names, local_index_by_name, ids,
                               replication, src)
    raise CatalogError(f"No partition exist in single partitioned table {target}")


def _new_table(job: Job, t_meta: dict[str, Any], target: str, ids: Ids, replication: int) -> tuple[dict[str, Any], dict[int, int]]:
    """A new table: fresh ids for the table and its indexes (its partitions and tablets follow); returns it
    and old index id -> new index id."""
    base_name = t_meta["name"]
    # Copy what the new table keeps, not the per-tablet file lists (large, and only the plan needs them).
    table = {k: copy.deepcopy(v) for k, v in t_meta.items() if k not in ("tablet_files", "tablet_md5", "partitions")}
    table["id"] = ids.take()
    table["name"] = target
    table["state"] = "NORMAL"
    table["restore_job"] = 0
    table["properties"] = {**table.get("properties", {}), "replication_num": str(replication)}
    new_index_ids = {int(old): ids.take() for old in t_meta["indexes"]}
    table["indexes"] = {}
    for old, idx in t_meta["indexes"].items():
        new_idx = copy.deepcopy(idx)
        new_idx["id"] = new_index_ids[int(old)]
        if new_idx["name"] == base_name:
            new_idx["name"] = target
        table["indexes"][str(new_idx["id"])] = new_idx
    table["base_index_id"] = new_index_ids[int(t_meta["base_index_id"])]
    table["partitions"] = {}
    if table.get("mv"):
        # Base tables of the snapshot's database now live in the target database, under their aliases.
        src_db = job.get("src_db", "")
        aliases = job.get("aliases", {})
        table["mv"]["base_tables"] = [
            [job["db"], aliases.get(b[1], b[1])] if b[0] == src_db else b for b in table["mv"]["base_tables"]
        ]
        table["mv"]["is_active"] = True
        table["mv"]["inactive_reason"] = ""
    return table, new_index_ids


def _plan_partition(state: ClusterState, job: Job, t_meta: dict[str, Any], p: dict[str, Any], target_pid: int, action: str,
                    index_names: dict[int, str], local_index_by_name: dict[str, int], ids: Ids, replication: int,
                    src: _Source) -> dict[str, Any]:
    """New (shadow) tablets for one partition: the i-th backup tablet of an index feeds the i-th new tablet."""
    files_meta = t_meta.get("tablet_files", {})
    md5s = t_meta.get("tablet_md5", {})
    new_tablets: dict[str, list[int]] = {}
    for old_index, src_tids in p["tablets"].items():
        name = index_names[int(old_index)]
        local_index = local_index_by_name.get(name)
        if local_index is None:
            raise CatalogError(f"Table {t_meta['name']} already exist but with different schema, errMsg: indexName is inconsistent")
        new_tablets[str(local_index)] = []
        for src_tid in src_tids:
            tid = ids.take()
            backends = place_replicas(state, tid, replication)
            files = files_meta.get(str(src_tid), [])
            md5_of = md5s.get(str(src_tid), {})
            job["tablets"][str(tid)] = {
                "be": backends[0],
                "backends": backends,
                "remote_dir": tablet_remote_dir(src.root, src.label, src.db_id, t_meta["id"], p["id"], int(old_index), int(src_tid)),
                "files": [f"{f['name']}.{md5_of[f['name']]}" for f in files],
                # The restored rowsets keep the verified md5, so backing them up again needs no hashing.
                "rowsets": [{**f, "md5": md5_of[f["name"]]} for f in files],
                "down": [],
            }
            new_tablets[str(local_index)].append(tid)
    partition = copy.deepcopy(p)
    partition["id"] = target_pid
    partition["replication_num"] = replication
    partition["tablets"] = new_tablets
    return {"name": p["name"], "action": action, "partition_id": target_pid, "version": p["visible_version"],
            "partition": partition, "tablets": new_tablets}
