"""The repositories' `decide` half: CREATE / DROP REPOSITORY and the periodic check's status changes.

Pure functions over the state (design §2.2): the remote I/O that CREATE REPOSITORY needs (can the location
be listed and written, is there a `__repo_info` to adopt) happens before, in the SQL session; its results
come in as arguments. Texts follow StarRocks (reference §6).
"""

from __future__ import annotations

from typing import Any

from events.errors import CatalogError
from events.event import Event
from events.model import Repository
from events.placement import Ids
from events.plain import to_plain
from events.state import ClusterState

FINAL_JOB_STATES = ("FINISHED", "CANCELLED")


def stream_of(repo_id: int) -> str:
    return f"repository/{repo_id}"


def check_create(state: ClusterState, name: str, broker: str | None) -> None:
    """The refusals that need no remote I/O; the session runs them before touching the storage."""
    if broker is not None:
        # Brokers are never registered here: the daemon talks to every storage directly.
        raise CatalogError(f"broker does not exist: {broker}")
    if name in state.repositories:
        raise CatalogError(f"Failed to create repository: repository with same name already exist: {name}")


def create_repository(
    state: ClusterState,
    *,
    name: str,
    location: str,
    read_only: bool,
    broker: str | None,
    properties: dict[str, Any],
    create_time_ns: int,
    root: str,
) -> list[Event]:
    """`properties` must already be sealed (storage/secrets.py): events are stored as given."""
    check_create(state, name, broker)
    if not root:
        raise CatalogError("Failed to create repository: no repository root")
    ids = Ids(state)
    repo = Repository(
        id=ids.take(),
        name=name,
        location=location,
        read_only=read_only,
        broker=broker,
        properties=dict(properties),
        create_time_ns=create_time_ns,
        root=root,
        err_msg=None,
    )
    return [
        Event(
            "repository.created",
            {"repository": to_plain(repo), "next_id": ids.next},
            stream=stream_of(repo.id),
        )
    ]


def running_job_uses(state: ClusterState, name: str) -> bool:
    return any(
        job.get("repo") == name and job.get("state") not in FINAL_JOB_STATES for job in state.jobs.values()
    )


def drop_repository(state: ClusterState, name: str) -> list[Event]:
    """Only the registration goes: the remote data stays (reference §4.3)."""
    repo = state.repositories.get(name)
    if repo is None:
        raise CatalogError("Repository does not exist")
    if running_job_uses(state, name):
        raise CatalogError("Backup or restore job is running on this repository. Can not drop it")
    return [Event("repository.dropped", {"name": name, "id": repo.id}, stream=stream_of(repo.id))]


def err_reason(err_msg: str | None) -> str | None:
    """The reason part of a stored ErrMsg `"<yyyy-MM-dd HH:mm:ss>: <reason>"`."""
    if err_msg is None:
        return None
    # The time has a fixed width (19 characters), so the split never depends on the reason's text.
    return err_msg[21:] if len(err_msg) > 21 and err_msg[19:21] == ": " else err_msg


def repository_status(
    state: ClusterState, *, name: str, repo_id: int, error: str | None, at: str
) -> list[Event]:
    """A check's result: an event only when the reason changes (a new time alone is not a change).

    Never raises: the checker tells this without waiting, and the repository may have been dropped (or
    dropped and re-created under the same name) while the check ran; then the result is stale and ignored.
    """
    repo = state.repositories.get(name)
    if repo is None or repo.id != repo_id:
        return []
    if err_reason(repo.err_msg) == error:
        return []
    err_msg = None if error is None else f"{at}: {error}"
    return [
        Event(
            "repository.status", {"name": name, "id": repo_id, "err_msg": err_msg}, stream=stream_of(repo_id)
        )
    ]
