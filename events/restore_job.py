"""RESTORE jobs, pure: plan at submit (reference §5 rules), download milestones, one atomic COMMIT event.

States (reference §3.2): PENDING -> SNAPSHOTING -> DOWNLOAD -> DOWNLOADING -> COMMIT -> COMMITTING ->
FINISHED, or CANCELLED. Where StarRocks moves files into live tablets during COMMIT (so a cancel there can
corrupt data), we download into new tablets that no reader knows about, and `restore.committed` swaps them
into the catalog in one event (design §2.7): before it the target is untouched, after it the job finishes.
"""

from __future__ import annotations

import copy
from typing import Any

from events.backup_job import Advance, cancel_event, record_task_error, stream, task_failed
from events.catalog import Ids, bound_key, default_replication, place_replicas
from events.errors import CatalogError
from events.event import Event
from events.job_common import (
    Job,
    SendTask,
    check_no_running_job,
    compact_if_done,
    is_running,
    last_jobs,
    spread_tasks,
    status_error,
    status_ok,
    timeout_of,
)
from events.layout import tablet_remote_dir
from events.model import Database, ExternalCatalog, Function, Partition, Rowset, Table, Tablet
from events.plain import load, to_plain
from events.state import ClusterState, applies

# ---------------------------------------------------------------------------- submit


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
    base_name = t_meta["name"]
    entry: dict[str, Any] = {"target": target, "src_name": base_name, "action": "create", "partitions": []}
    if existing is not None:
        if existing.kind == "MATERIALIZED_VIEW" and existing.mv is not None and existing.mv.is_active:
            return None  # StarRocks skips an active MV that already exists (reference §5.3.2)
        _check_schema(existing, t_meta, target)
        entry["action"] = "overwrite"
        entry["table_id"] = existing.id
        job["locked"].append(existing.id)
        local_index_by_name = {(i.name if i.id != existing.base_index_id else base_name): i.id for i in existing.indexes.values()}
        types = [c["type"] for c in t_meta["columns"] if c["name"].lower() in [x.lower() for x in t_meta["partition_columns"]]]
        for p in chosen:
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
                entry["partitions"].append(_plan_partition(state, job, t_meta, p, local.id, "overwrite", index_names,
                                                           local_index_by_name, ids, replication, root, label, src_db_id))
            elif existing.partition_type == "RANGE":
                lo, hi = bound_key(types, p["lower"], False), bound_key(types, p["upper"], True)
                for q in existing.partitions.values():
                    q_lo, q_hi = bound_key(types, q.lower, False), bound_key(types, q.upper, True)
                    if (lo[0], lo[1:]) < (q_hi[0], q_hi[1:]) and (q_lo[0], q_lo[1:]) < (hi[0], hi[1:]):
                        raise CatalogError(f"Partition {p['name']} in table {target} has conflict range with existing ranges")
                entry["partitions"].append(_plan_partition(state, job, t_meta, p, ids.take(), "add", index_names,
                                                           local_index_by_name, ids, replication, root, label, src_db_id))
            else:
                raise CatalogError(f"No partition exist in single partitioned table {target}")
        return entry
    # A new table: fresh ids for the table, its indexes, partitions and tablets.
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
    local_index_by_name = {index_names[old]: new for old, new in new_index_ids.items()}
    entry["table"] = table
    entry["table_id"] = table["id"]
    for p in chosen:
        entry["partitions"].append(_plan_partition(state, job, t_meta, p, ids.take(), "create", index_names,
                                                   local_index_by_name, ids, replication, root, label, src_db_id))
    return entry


def _plan_partition(state: ClusterState, job: Job, t_meta: dict[str, Any], p: dict[str, Any], target_pid: int, action: str,
                    index_names: dict[int, str], local_index_by_name: dict[str, int], ids: Ids, replication: int,
                    root: str, label: str, src_db_id: int) -> dict[str, Any]:
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
                "remote_dir": tablet_remote_dir(root, label, src_db_id, t_meta["id"], p["id"], int(old_index), int(src_tid)),
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


# ---------------------------------------------------------------------------- evolve


def _find_table(state: ClusterState, table_id: int) -> Table | None:
    for db in state.databases.values():
        for t in db.tables.values():
            if t.id == table_id:
                return t
    return None


@applies("restore.submitted")
def _submitted(state: ClusterState, d: dict[str, Any]) -> None:
    job = d["job"]  # appliers own their event's data (see backup_job._submitted)
    # Counters so a report costs O(its files), not O(all files): without them each of a 10,000-tablet
    # restore's ~2,000 reports scanned every tablet (derived here, so old logs get them too).
    job["files_total"] = sum(len(t["files"]) for t in job["tablets"].values())
    job["downloaded"] = sum(len(t["down"]) for t in job["tablets"].values())
    state.jobs[job["id"]] = job
    for table_id in job["locked"]:
        t = _find_table(state, table_id)
        if t is not None:
            t.state = "RESTORE"
            t.restore_job = job["id"]


@applies("restore.state")
def _state(state: ClusterState, d: dict[str, Any]) -> None:
    job = state.jobs[d["job_id"]]
    for key in ("state", "status", "meta_prepared_ns", "snapshot_finished_ns", "download_finished_ns", "finished_ns"):
        if key in d:
            job[key] = d[key]
    if d["state"] == "CANCELLED":
        _unlock(state, job)
    if d["state"] == "FINISHED" or job.get("cleaned"):
        compact_if_done(job)


def _unlock(state: ClusterState, job: Job) -> None:
    for table_id in job["locked"]:
        t = _find_table(state, table_id)
        if t is not None and t.restore_job == job["id"]:
            t.state = "NORMAL"
            t.restore_job = 0


@applies("restore.file_downloaded")
def _downloaded(state: ClusterState, d: dict[str, Any]) -> None:
    tablet = state.jobs[d["job_id"]]["tablets"][str(d["tablet_id"])]
    if d.get("xxh3"):  # v2: the restored rowset keeps it, so its next backup checks its bytes fast
        tablet.setdefault("xxh3", {})[d["file"].rpartition(".")[0]] = d["xxh3"]
    if d["file"] not in tablet["down"]:
        tablet["down"].append(d["file"])
        job = state.jobs[d["job_id"]]
        if "downloaded" in job:
            job["downloaded"] += 1


@applies("restore.task_error")
def _task_error(state: ClusterState, d: dict[str, Any]) -> None:
    record_task_error(state.jobs[d["job_id"]], d)


@applies("restore.rolled_back")
def _rolled_back(state: ClusterState, d: dict[str, Any]) -> None:
    job = state.jobs[d["job_id"]]
    job["cleaned"] = True
    compact_if_done(job)


@applies("restore.committed")
def _committed(state: ClusterState, d: dict[str, Any]) -> None:
    """The whole restore becomes visible here, in one step."""
    job = state.jobs[d["job_id"]]
    plan = job["plan"]
    for c in plan["catalogs"]:
        catalog = load(ExternalCatalog, c)
        state.catalogs[catalog.name] = catalog
    if not job["db"]:
        return
    db = state.databases.get(job["db"])
    if db is None:
        created = plan["create_db"] or {"id": plan["db_id"], "name": job["db"]}
        db = Database(id=created["id"], name=job["db"])
        state.databases[db.name] = db
    for tid, t in job["tablets"].items():
        state.tablets[int(tid)] = Tablet(
            id=int(tid), backends=list(t["backends"]),
            rowsets=[Rowset(version=f["version"], file=f["name"], rows=f["rows"], size=f["size"], md5=f.get("md5", ""),
                            xxh3=t.get("xxh3", {}).get(f["name"], "")) for f in t["rowsets"]],
        )
    for entry in plan["tables"]:
        if entry["action"] == "create":
            table = load(Table, entry["table"])
            for p in entry["partitions"]:
                table.partitions[p["name"]] = load(Partition, p["partition"])
            db.tables[table.name] = table
            continue
        table = db.tables[entry["target"]]
        for p in entry["partitions"]:
            new_tablets = {int(k): list(v) for k, v in p["tablets"].items()}
            if p["action"] == "add":
                part = load(Partition, p["partition"])
                part.tablets = new_tablets
                table.partitions[part.name] = part
                continue
            local = table.partitions[p["name"]]
            for ids in local.tablets.values():
                state.garbage_tablets.extend(ids)
            local.tablets = new_tablets
            local.visible_version = p["version"]
    for v in plan["views"]:
        view = load(Table, v["table"])
        db.tables[view.name] = view
    for f in plan["functions"]:
        fn = load(Function, f)
        db.functions = [x for x in db.functions if x.signature != fn.signature] + [fn]
    _unlock(state, job)
    _activate_mvs(state, db, job)


def _activate_mvs(state: ClusterState, db: Database, job: Job) -> None:
    """Restored async MVs are active when their base tables exist, else inactive with the reason."""
    for entry in job["plan"]["tables"]:
        table = db.tables.get(entry["target"])
        if table is None or table.mv is None:
            continue
        missing = [f"{b[0]}.{b[1]}" for b in table.mv.base_tables if b[1] not in (state.databases.get(b[0]) or db).tables]
        table.mv.is_active = not missing
        table.mv.inactive_reason = f"base table(s) not restored: {', '.join(missing)}" if missing else ""


# ---------------------------------------------------------------------------- decide on reports


def on_report(job: Job, kind: str, done: list[dict[str, Any]], error: str | None, error_item: dict[str, Any] | None,
              now_ns: int) -> list[Event]:
    if not is_running(job):
        if kind == "drop" and job["state"] == "CANCELLED" and not job.get("cleaned"):
            return [Event("restore.rolled_back", {"job_id": job["id"]}, stream=stream(job["id"]))]
        return []
    jid = job["id"]
    s = stream(jid)
    events: list[Event] = []
    if kind == "download" and job["state"] == "DOWNLOADING":
        fresh_items = {(str(d["tablet_id"]), d["file"]): d for d in done
                       if d["file"] not in job["tablets"][str(d["tablet_id"])]["down"]}
        fresh = set(fresh_items)
        events += [Event("restore.file_downloaded", {"job_id": jid, "tablet_id": int(t), "file": f,
                                                     "xxh3": fresh_items[(t, f)].get("xxh3", "")}, stream=s)
                   for t, f in sorted(fresh)]
        if "downloaded" in job:  # (a job from a state snapshot of an older version has no counters)
            complete = job["downloaded"] + len(fresh) >= job["files_total"]
        else:
            complete = not [1 for t, v in job["tablets"].items() for f in v["files"]
                            if f not in v["down"] and (t, f) not in fresh]
        if complete:
            events.append(Event("restore.state", {"job_id": jid, "state": "COMMIT", "download_finished_ns": now_ns}, stream=s))
    if error is not None:
        events += task_failed(job, "restore", error, error_item, now_ns)
    return events


def commit_events(state: ClusterState, job: Job, now_ns: int) -> list[Event]:
    """COMMIT: re-check that nothing the plan relies on changed, then publish everything in one event."""
    jid = job["id"]
    s = stream(jid)
    problem = _commit_problem(state, job)
    if problem:
        return [cancel_event(job, "restore", status_error("NOT_FOUND", problem), now_ns)]
    return [
        Event("restore.state", {"job_id": jid, "state": "COMMITTING"}, stream=s),
        Event("restore.committed", {"job_id": jid}, stream=s, key=f"restore-commit/{jid}"),
        Event("restore.state", {"job_id": jid, "state": "FINISHED", "finished_ns": now_ns}, stream=s),
    ]


def _commit_problem(state: ClusterState, job: Job) -> str | None:
    if not job["db"]:
        clash = [c["name"] for c in job["plan"]["catalogs"] if c["name"] in state.catalogs]
        return f"catalog {clash[0]} was created during the restore" if clash else None
    db = state.databases.get(job["db"])
    if db is None and job["plan"]["create_db"] is None:
        return f"database {job['db']} has been dropped"
    for entry in job["plan"]["tables"]:
        existing = db.tables.get(entry["target"]) if db else None
        if entry["action"] == "create" and existing is not None:
            return f"table {entry['target']} was created during the restore"
        if entry["action"] == "overwrite" and (existing is None or existing.id != entry["table_id"]):
            return f"table {entry['target']} has been dropped"
    return None


def cancel(state: ClusterState, db: str | None, catalog: bool, now_ns: int) -> list[Event]:
    key = "__external_catalog__" if catalog else db
    if not catalog and not db:
        raise CatalogError("No database selected", 1046)
    job = last_jobs(state).get(key or "")
    if job is None or job["type"] != "RESTORE":
        raise CatalogError("No restore is currently running")
    if not is_running(job) or job["state"] in ("COMMITTING",):
        raise CatalogError(f"Failed to cancel job: Job with label {job['label']} can not be cancelled. state: {job['state']}")
    return [cancel_event(job, "restore", status_error("COMMON_ERROR", f"user cancelled, current state: {job['state']}"), now_ns)]


# ---------------------------------------------------------------------------- react


def react(state: ClusterState, job: Job) -> list[Any]:
    st = job["state"]
    jid = job["id"]
    if st == "SNAPSHOTING":
        # Nothing to prepare: new tablets get their directories when their files arrive.
        return [Advance(jid, "restore", "DOWNLOAD")]
    if st == "DOWNLOAD":
        return [Advance(jid, "restore", "DOWNLOADING")]
    if st == "DOWNLOADING":
        effects: list[Any] = _download_tasks(state, job)
        if not effects:
            effects.append(Advance(jid, "restore", "COMMIT"))
        return effects
    if st == "COMMIT":
        return [Advance(jid, "restore", "COMMITTING")]
    if st == "CANCELLED" and not job.get("cleaned"):
        by_be: dict[int, list[int]] = {}
        for tid, t in job["tablets"].items():
            for be in t["backends"]:
                by_be.setdefault(be, []).append(int(tid))
        if not by_be:
            return [SendTask(min(state.backends), "drop", jid, "drop/none", {"tablet_ids": []})]
        return [SendTask(be, "drop", jid, f"drop/{be}", {"tablet_ids": sorted(tids)}) for be, tids in sorted(by_be.items())]
    return []


def _download_tasks(state: ClusterState, job: Job) -> list[SendTask]:
    cap = state.config_int("max_download_task_per_be")
    by_be: dict[int, list[dict[str, Any]]] = {}
    for tid, t in sorted(job["tablets"].items(), key=lambda kv: int(kv[0])):
        missing = [f for f in t["files"] if f not in t["down"]]
        if missing:
            by_be.setdefault(t["be"], []).append(
                {"tablet_id": int(tid), "remote_dir": t["remote_dir"], "files": missing, "replicas": t["backends"][1:]}
            )
    return spread_tasks(job["id"], "download", by_be, cap)

