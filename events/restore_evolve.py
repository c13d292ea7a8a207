"""RESTORE jobs' evolve half, pure: how each restore event changes the job and the catalog (the fold's table).

`restore.committed` swaps the downloaded (shadow) tablets into the catalog in one step (design §2.7).
"""

from __future__ import annotations

from typing import Any

from events.job_common import compact_if_done, record_task_error
from events.job_record import Job
from events.model import Database, ExternalCatalog, Function, Partition, Rowset, Table, Tablet
from events.plain import load
from events.state import Applier, ClusterState


def _find_table(state: ClusterState, table_id: int) -> Table | None:
    for db in state.databases.values():
        for t in db.tables.values():
            if t.id == table_id:
                return t
    return None


def _submitted(state: ClusterState, d: dict[str, Any]) -> None:
    job = d["job"]  # appliers own their event's data (see backup_evolve._submitted)
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


def _downloaded(state: ClusterState, d: dict[str, Any]) -> None:
    tablet = state.jobs[d["job_id"]]["tablets"][str(d["tablet_id"])]
    if d.get("xxh3"):  # v2: the restored rowset keeps it, so its next backup checks its bytes fast
        tablet.setdefault("xxh3", {})[d["file"].rpartition(".")[0]] = d["xxh3"]
    if d["file"] not in tablet["down"]:
        tablet["down"].append(d["file"])
        job = state.jobs[d["job_id"]]
        if "downloaded" in job:
            job["downloaded"] += 1


def _task_error(state: ClusterState, d: dict[str, Any]) -> None:
    record_task_error(state.jobs[d["job_id"]], d)


def _rolled_back(state: ClusterState, d: dict[str, Any]) -> None:
    job = state.jobs[d["job_id"]]
    job["cleaned"] = True
    compact_if_done(job)


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


APPLIERS: dict[str, Applier] = {
    "restore.submitted": _submitted,
    "restore.state": _state,
    "restore.file_downloaded": _downloaded,
    "restore.task_error": _task_error,
    "restore.rolled_back": _rolled_back,
    "restore.committed": _committed,
}
