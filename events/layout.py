"""Names inside a repository (reference §4): the one home of the snapshot layout's names, as pure functions.

Used by the job state machines (what a task writes where), the backends and storage/repo_layout.py.
"""

from __future__ import annotations

SNAPSHOT_PREFIX = "__ss_"
CONTENT_DIR = "__ss_content"
META_NAME = "__meta"
INFO_PREFIX = "__info_"


def snapshot_dir(root: str, label: str) -> str:
    return f"{root}/{SNAPSHOT_PREFIX}{label}"


def info_file_name(timestamp: str) -> str:
    return INFO_PREFIX + timestamp


def tablet_remote_dir(root: str, label: str, db_id: int, tbl_id: int, part_id: int, idx_id: int, tablet_id: int) -> str:
    return (
        f"{snapshot_dir(root, label)}/{CONTENT_DIR}/__db_{db_id}/__tbl_{tbl_id}"
        f"/__part_{part_id}/__idx_{idx_id}/__{tablet_id}"
    )
