"""Answers to queries that need the folded state alone: plain data, never a live state object.

Each takes `(state, query)` so the frontend's table (`actors/fe_table.py`) maps the query's type straight
to it. Answers that need the shell (paths under the data directory, the secret box, the job engine) are in
`actors/fe_*.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from events import queries as q
from events.catalog import get_db
from events.errors import CatalogError
from events.model import Partition, Repository
from events.objects import find_sync_mv
from events.plain import to_plain
from events.repositories import check_create
from events.state import ClusterState

Plain = dict[str, Any]


def databases(s: ClusterState, _: q.Databases) -> list[str]:
    return sorted(s.databases)


def tables(s: ClusterState, query: q.Tables) -> list[Plain]:
    db = get_db(s, query.db)
    return [{"name": t.name, "kind": t.kind} for t in sorted(db.tables.values(), key=lambda t: t.name)]


def config(s: ClusterState, _: q.Config) -> dict[str, str]:
    return dict(s.config)


def object_info(s: ClusterState, query: q.ObjectInfo) -> Plain:
    db = get_db(s, query.db)
    t = db.tables.get(query.name)
    if t is not None:
        return {"kind": t.kind, "table": to_plain(t)}
    found = find_sync_mv(db, query.name)
    if found is not None:
        return {"kind": "SYNC_MV", "base_table": found[0].name, "index": to_plain(found[1])}
    return {"kind": None}


def _visible_rows(s: ClusterState, partitions: Iterable[Partition], index_id: int) -> int:
    rows = 0
    for p in partitions:
        for tid in p.tablets.get(index_id, []):
            tablet = s.tablets.get(tid)
            if tablet is not None:
                rows += sum(r.rows for r in tablet.rowsets if r.version <= p.visible_version)
    return rows


def mv_list(s: ClusterState, query: q.MvList) -> list[Plain]:
    db = get_db(s, query.db)
    out: list[Plain] = []
    for t in db.tables.values():
        if t.kind == "MATERIALIZED_VIEW" and t.mv is not None:
            out.append({"id": t.id, "name": t.name, "sync": False, "mv": to_plain(t.mv), "table": to_plain(t),
                        "rows": _visible_rows(s, t.partitions.values(), t.base_index_id)})
        for idx in t.indexes.values():
            if idx.id != t.base_index_id:
                out.append({"id": idx.id, "name": idx.name, "sync": True, "base_table": t.name,
                            "index": to_plain(idx), "rows": _visible_rows(s, t.partitions.values(), idx.id)})
    return sorted(out, key=lambda r: int(r["id"]))


def mv_schedules(s: ClusterState, _: q.MvSchedules) -> list[Plain]:
    out: list[Plain] = []
    for db in s.databases.values():
        for t in db.tables.values():
            if t.mv is not None and t.mv.refresh == "ASYNC" and t.mv.refresh_interval_s:
                out.append({"db": db.name, "name": t.name, "start": t.mv.refresh_start})
    return out


def functions(s: ClusterState, query: q.Functions) -> list[Plain]:
    return [to_plain(f) for f in get_db(s, query.db).functions]


def repository_precheck(s: ClusterState, query: q.RepositoryPrecheck) -> None:
    check_create(s, query.name, query.broker)


def _public(repo: Repository) -> Plain:
    """What SHOW may print: everything but the properties (credentials are never shown, even sealed)."""
    out: Plain = to_plain(repo)
    out.pop("properties", None)
    return out


def repositories(s: ClusterState, _: q.Repositories) -> list[Plain]:
    return [_public(r) for r in sorted(s.repositories.values(), key=lambda r: r.id)]


def repository_for_job(s: ClusterState, query: q.RepositoryForJob) -> Plain:
    repo = s.repositories.get(query.name)
    if repo is None:
        raise CatalogError(f"Repository {query.name} does not exist")
    plain: Plain = to_plain(repo)
    return plain


def repositories_to_check(s: ClusterState, _: q.RepositoriesToCheck) -> list[Plain]:
    return [to_plain(r) for r in sorted(s.repositories.values(), key=lambda r: r.id)]
