"""The two metadata files of a snapshot: `__meta` (what to rebuild) and `__info_<timestamp>` (what is there).

StarRocks' meta file is its FE's internal serialization; ours is JSON with the same role (reference §4.2):
the tables (schema, partitions, indexes, rowset versions of every tablet), views, functions and external
catalogs. The info file follows reference §4.1, plus `event_log_head`: the hash of the event log's head
when the backup was written, so a snapshot names the exact log state that produced it.
"""

from __future__ import annotations

import json
from typing import Any

META_VERSION = 1
STARROCKS_META_VERSION = 1


# Both files are built, on a backend, from a backup job's plain facts (events/backup_job.file_facts): `label`,
# `create_time_ns`, `meta` (the job's metadata copy) and `tablets` (tablet id -> {"up": file -> md5}).
Facts = dict[str, Any]


def _tablet_md5(facts: Facts) -> dict[str, dict[str, str]]:
    return {tid: dict(t["up"]) for tid, t in facts["tablets"].items()}


def build_meta(facts: Facts, open_secrets: Any = None) -> bytes:
    meta = json.loads(json.dumps(facts["meta"]))
    md5 = _tablet_md5(facts)
    for table in meta["tables"]:
        files = table.get("tablet_files", {})
        table["tablet_md5"] = {tid: md5.get(tid, {}) for tid in files}
    if open_secrets is not None:
        # Catalog credentials travel in the meta file, as in StarRocks, so another cluster can restore them.
        for c in meta["catalogs"]:
            c["properties"] = open_secrets(c["properties"])
    meta["meta_version"] = META_VERSION
    return json.dumps(meta, sort_keys=True).encode()


def build_info(facts: Facts, head_hash: str) -> bytes:
    objects: dict[str, Any] = {}
    up = _tablet_md5(facts)
    for table in facts["meta"]["tables"]:
        parts: dict[str, Any] = {}
        for pname, p in table["partitions"].items():
            indexes: dict[str, Any] = {}
            for index_id, tids in p["tablets"].items():
                index = table["indexes"].get(str(index_id)) or table["indexes"].get(index_id)
                indexes[index["name"]] = {
                    "id": int(index_id),
                    "schema_hash": 0,
                    "tablets": {str(t): sorted(f"{n}.{m}" for n, m in up.get(str(t), {}).items()) for t in tids},
                    "tablets_order": [str(t) for t in tids],
                }
            parts[pname] = {"id": p["id"], "version": p["visible_version"], "version_hash": 0, "indexes": indexes}
        objects[table["name"]] = {"id": table["id"], "autoIncrementId": None, "partitions": parts}
    database = facts["meta"]["database"] or {}
    info = {
        "name": facts["label"],
        "database": database.get("name", ""),
        "id": database.get("id", -1),
        "backup_time": facts["create_time_ns"] // 1_000_000,
        "meta_version": META_VERSION,
        "starrocks_meta_version": STARROCKS_META_VERSION,
        "backup_result": "succeed",
        "backup_objects": objects,
        "views": [v["name"] for v in facts["meta"]["views"]],
        "functions": [f"{f['name']}({', '.join(f['arg_types'])})" for f in facts["meta"]["functions"]],
        "catalogs": [c["name"] for c in facts["meta"]["catalogs"]],
        "event_log_head": head_hash,
    }
    return json.dumps(info, indent=1, sort_keys=False).encode()


def brief_info(info: dict[str, Any]) -> str:
    """SHOW SNAPSHOT's Details: the info without ids, versions and indexes (BackupJobInfo.toJson(false))."""
    objects: dict[str, Any] = {
        name: {"partitions": {p: {} for p in t.get("partitions", {})}} for name, t in info.get("backup_objects", {}).items()
    }
    brief = {
        "name": info.get("name"),
        "database": info.get("database"),
        "backup_time": info.get("backup_time"),
        "backup_objects": objects,
        "meta_version": info.get("meta_version"),
        "starrocks_meta_version": info.get("starrocks_meta_version"),
        "backup_result": info.get("backup_result"),
    }
    for extra in ("views", "functions", "catalogs"):
        if info.get(extra):
            brief[extra] = info[extra]
    return json.dumps(brief, indent=1)
