"""Messages between actors: frozen plain data only (design §2.6), so a backend could live elsewhere.

A session's commands and queries to the frontend are the values of `events/commands.py` and
`events/queries.py`, sent as they are (the frontend dispatches on their type); the rest are here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Tick:
    """Periodic wake-up of the frontend: job timeouts, repository checks, timed MV refresh, tablet GC."""


@dataclass(frozen=True)
class Task:
    """Work for a backend. `kind`: snapshot | upload | meta | info | verify | download | release | drop | gc.
    `args` are plain data built by the job module's `task_args` (the meta and info files' facts among them,
    never their bytes; never the settings: see ConfigChanged). `reply_to` gets a Report."""

    kind: str
    job_id: int
    key: str  # idempotency key of the task (job, tablet, phase)
    args: dict[str, Any]
    reply_to: str = "fe"


@dataclass(frozen=True)
class Report:
    """A backend's answer for a batch of finished (or failed) task items."""

    kind: str
    job_id: int
    backend_id: int
    done: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    error_item: dict[str, Any] | None = None
    finished_keys: tuple[str, ...] = ()  # tasks that ended (done or failed): no longer in flight


@dataclass(frozen=True)
class RetryJob:
    """Timer: re-derive a job's effects (after a failed item, with backoff)."""

    job_id: int


@dataclass(frozen=True)
class ConfigChanged:
    """The frontend's settings, to every backend at start-up and after each `config.set`: a backend keeps
    its copy (its pool sizes follow it)."""

    config: dict[str, str]


@dataclass(frozen=True)
class AdvanceJob:
    """Self-message of the frontend: move a job from `from_state` to `to_state` in a delivery of its own.

    A state with no work of its own (backup UPLOAD_SNAPSHOT, restore SNAPSHOTING, DOWNLOAD, COMMIT) is left
    by this message rather than within the delivery that entered it, so every state is the last one on disk
    at some point (a crash can happen inside it). At delivery, the job module's `advance` decides the events,
    against the job's state then (`from_state` must still be its state)."""

    job_id: int
    kind: str
    from_state: str
    to_state: str
