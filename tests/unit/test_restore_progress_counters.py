"""A restore decides it is complete from counters kept by its appliers (O(1) per report), and falls back
to scanning its tablets for a job restored from a state snapshot written before the counters existed."""

from __future__ import annotations

import copy
from typing import Any

from events.restore_job import on_report


def _job(with_counters: bool) -> dict[str, Any]:
    job: dict[str, Any] = {
        "id": 7, "type": "RESTORE", "state": "DOWNLOADING", "label": "l",
        "tablets": {"1": {"files": ["a.x", "b.y"], "down": ["a.x"]}, "2": {"files": ["c.z"], "down": []}},
    }
    if with_counters:
        job["files_total"], job["downloaded"] = 3, 1
    return job


def _types(events: list[Any]) -> list[str]:
    return [e.type + (f":{e.data['state']}" if e.type == "restore.state" else "") for e in events]


def test_completion_with_and_without_counters() -> None:
    for with_counters in (True, False):
        job = _job(with_counters)
        # One file still missing: no COMMIT yet; a repeated report of a recorded file changes nothing.
        partial = on_report(copy.deepcopy(job), "download", [{"tablet_id": 1, "file": "b.y"},
                                                             {"tablet_id": 1, "file": "a.x"}], None, None, 1)
        assert _types(partial) == ["restore.file_downloaded"]
        done = on_report(copy.deepcopy(job), "download", [{"tablet_id": 1, "file": "b.y"},
                                                          {"tablet_id": 2, "file": "c.z"}], None, None, 1)
        assert _types(done) == ["restore.file_downloaded", "restore.file_downloaded", "restore.state:COMMIT"]
