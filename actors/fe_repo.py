"""The frontend's repository commands and reads (CREATE / DROP / SHOW REPOSITORIES, the periodic check).

No remote I/O here: the SQL session checks the location before it sends `create_repository`, and the
repository checker probes on its own pool and only tells the result (actors/repo_checker.py).
"""

from __future__ import annotations

from typing import Any

from actors.frontend import Frontend, command, read
from events import repositories
from events.event import Event
from events.plain import to_plain
from events.state import ClusterState

Args = dict[str, Any]


@read("repository_precheck")
def _precheck(fe: Frontend, s: ClusterState, a: Args) -> None:
    repositories.check_create(s, a["name"], a.get("broker"))


@command("create_repository")
def _create(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    evs = repositories.create_repository(
        s,
        name=a["name"],
        location=a["location"],
        read_only=bool(a["read_only"]),
        broker=a.get("broker"),
        properties=a.get("properties") or {},
        create_time_ns=int(a["create_time_ns"]),
        root=a["root"],
    )
    return evs, None


@command("drop_repository")
def _drop(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    return repositories.drop_repository(s, a["name"]), None


@command("repository_status")
def _status(fe: Frontend, s: ClusterState, a: Args) -> tuple[list[Event], Any]:
    return repositories.repository_status(
        s, name=a["name"], repo_id=int(a["id"]), error=a.get("error"), at=a["at"]
    ), None


def _public(repo: Any) -> dict[str, Any]:
    """What SHOW may print: everything but the properties (credentials are never shown, even sealed)."""
    out = to_plain(repo)
    out.pop("properties", None)
    return out


@read("repositories")
def _repositories(fe: Frontend, s: ClusterState, a: Args) -> list[dict[str, Any]]:
    return [_public(r) for r in sorted(s.repositories.values(), key=lambda r: r.id)]


@read("repository")
def _repository(fe: Frontend, s: ClusterState, a: Args) -> dict[str, Any] | None:
    """One repository with its sealed properties, for `storage.repo_access.open_repository`; None if unknown."""
    repo = s.repositories.get(a["name"])
    return to_plain(repo) if repo is not None else None


@read("repositories_to_check")
def _to_check(fe: Frontend, s: ClusterState, a: Args) -> list[dict[str, Any]]:
    """Every repository with its sealed properties, for the checker's probes."""
    return [to_plain(r) for r in sorted(s.repositories.values(), key=lambda r: r.id)]
