"""Names inside a repository (reference §4), as pure functions the job state machines can use."""

from __future__ import annotations


def snapshot_dir(root: str, label: str) -> str:
    return f"{root}/__ss_{label}"


def tablet_remote_dir(root: str, label: str, db_id: int, tbl_id: int, part_id: int, idx_id: int, tablet_id: int) -> str:
    return (
        f"{snapshot_dir(root, label)}/__ss_content/__db_{db_id}/__tbl_{tbl_id}"
        f"/__part_{part_id}/__idx_{idx_id}/__{tablet_id}"
    )
