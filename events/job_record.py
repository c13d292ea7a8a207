"""The shape of a job in the state: typed records over plain dicts.

A job is kept as the plain dict its `*.submitted` event carried (so the state's snapshot and digest, and
the fold of old logs, are unchanged); these TypedDicts name its fields and their types. Every field is
optional to the type checker: a backup and a restore share one record type (the `type` field tells them
apart), some fields appear only in later states, and ended jobs are compacted (see
job_common.compact_if_done). Tablets are keyed by the tablet id as text, as in the events.
"""

from __future__ import annotations

from typing import Any, TypedDict


class JobTablet(TypedDict, total=False):
    # A backup's snapshot item: the replica serving it, where its files go, what is snapped and uploaded.
    be: int
    replicas: list[int]
    db_id: int
    table_id: int
    part_id: int
    index_id: int
    files: list[str]
    known: dict[str, list[Any]]  # file -> [md5, size(, xxh3)] recorded when it was written
    snap: bool
    up: dict[str, str]  # file -> md5 uploaded
    damaged: list[int]
    resnap: bool
    # A restore's new (shadow) tablet: its replicas, where its files come from, what is downloaded.
    backends: list[int]
    remote_dir: str
    rowsets: list[dict[str, Any]]
    down: list[str]
    xxh3: dict[str, str]


class Job(TypedDict, total=False):
    # Both kinds.
    id: int
    type: str  # BACKUP | RESTORE
    label: str
    db: str  # "" for external catalogs
    repo: str
    state: str
    status: str
    timestamp: str
    create_time_ns: int
    snapshot_finished_ns: int
    finished_ns: int
    timeout_s: int
    task_errors: list[str]
    attempts: dict[str, int]
    objects_text: str
    tablets: dict[str, JobTablet]
    files_total: int
    final_progress: str  # an ended job, compacted
    tablet_count: int
    # BACKUP.
    db_id: int
    upload_finished_ns: int
    meta: dict[str, Any]  # the metadata copy the meta file is built from
    released: bool
    released_bes: list[int]
    extra_bes: list[int]
    snapped: int
    uploaded: int
    repairs: int
    data_verified: bool
    meta_file: str
    meta_size: int
    info_file: str
    info_size: int
    head_hash: str
    # RESTORE.
    allow_load: bool
    meta_prepared_ns: int
    download_finished_ns: int
    locked: list[int]
    cleaned: bool
    plan: dict[str, Any]
    replication_num: int
    src_db: str
    aliases: dict[str, str]
    downloaded: int
