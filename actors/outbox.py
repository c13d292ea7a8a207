"""A backend's outbox: finished task items coalesced into few reports (one frontend transaction each).

A job over 100,000 tablets costs a few hundred log transactions this way, not 100,000. An item may name
what makes it durable (a sync): that runs once per flush for all items needing it, before any is reported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from actors.messages import Report

REPORT_BATCH = 256  # items per report at most
REPORT_DELAY_S = 0.05  # a partial batch waits at most this long


class OutboxOwner(Protocol):
    """The backend an outbox reports for."""

    backend_id: int

    def report(self, report: Report) -> None: ...

    def schedule_flush(self, delay_s: float) -> None:
        """Have `Outbox.flush` called after `delay_s` (the backend sends itself a Flush)."""
        ...


class Flush:
    """Self-message: send what the outbox holds."""


class Outbox:
    """Coalesces finished items of many tasks into few reports (one frontend transaction each)."""

    def __init__(self, worker: OutboxOwner) -> None:
        self.worker = worker
        self.lock = threading.Lock()
        self.items: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.finished: dict[tuple[str, int], list[str]] = {}
        self.syncs: dict[str, Callable[[], None]] = {}
        self.flush_pending = False

    def add(self, kind: str, job_id: int, item: dict[str, Any], sync: tuple[str, Callable[[], None]] | None = None) -> None:
        """Queue a finished item. `sync` (name, fn): what makes the item durable; it runs once per flush for
        all items that need it, before any of them is reported (one syncfs instead of one fsync per file)."""
        with self.lock:
            batch = self.items.setdefault((kind, job_id), [])
            batch.append(item)
            if sync is not None:
                self.syncs[sync[0]] = sync[1]
            full = len(batch) >= REPORT_BATCH
            schedule = not self.flush_pending and not full
            if schedule:
                self.flush_pending = True
        if full:
            self.flush()
        elif schedule:
            self.worker.schedule_flush(REPORT_DELAY_S)

    def task_done(self, kind: str, job_id: int, key: str) -> None:
        with self.lock:
            self.finished.setdefault((kind, job_id), []).append(key)
            now = not self.syncs  # nothing waits for a sync: report at once (a job's next state waits on it)
            schedule = not now and not self.flush_pending
            if schedule:
                self.flush_pending = True
        if now:
            self.flush()
        elif schedule:
            self.worker.schedule_flush(REPORT_DELAY_S)

    def flush(self) -> None:
        with self.lock:
            items, self.items = self.items, {}
            finished, self.finished = self.finished, {}
            syncs, self.syncs = self.syncs, {}
            self.flush_pending = False
        try:
            for name in sorted(syncs):
                syncs[name]()
        except OSError as e:  # nothing of this batch is known durable: report none of it, retry it all
            for (kind, job_id) in sorted(set(items) | set(finished)):
                self.worker.report(Report(kind=kind, job_id=job_id, backend_id=self.worker.backend_id,
                                          error=f"sync failed: {e}", error_item={"key": "sync"},
                                          finished_keys=tuple(finished.get((kind, job_id), []))))
            return
        for (kind, job_id) in sorted(set(items) | set(finished)):
            self.worker.report(Report(kind=kind, job_id=job_id, backend_id=self.worker.backend_id,
                                      done=tuple(items.get((kind, job_id), [])),
                                      finished_keys=tuple(finished.get((kind, job_id), []))))
