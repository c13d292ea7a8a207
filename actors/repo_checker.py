"""The repository checker: every interval, probe each repository and record when its ErrMsg changes.

StarRocks pings every repository periodically and shows the last failure in SHOW REPOSITORIES as
`"<yyyy-MM-dd HH:mm:ss>: <msg>"`, cleared when the repository answers again. Here:

- the actor only keeps time and book-keeping; remote I/O (and asking the frontend for the list, which
  waits) runs on its own bounded pool, so neither this actor nor the frontend ever blocks on a slow store;
- each repository has at most one probe in flight, so a dead endpoint cannot pile up probes;
- results go to the frontend as a told `repository_status` command, which appends `repository.status`
  only when the reason changes (events/repositories.py); nothing is recorded for a healthy repository
  that stays healthy.

The interval is STARBACKUP_REPO_CHECK_SECONDS (default 60 s).
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from typing import Any

from actors.runtime import Actor, Runtime
from events.commands import RepositoryStatus
from events.queries import RepositoriesToCheck
from events.repositories import err_reason
from storage.repo import StorageError
from storage.repo_access import now_text, open_repository, probe

log = logging.getLogger("starbackup.repo_checker")

NAME = "repo_checker"
ENV_INTERVAL = "STARBACKUP_REPO_CHECK_SECONDS"
DEFAULT_INTERVAL_S = 60.0
POOL_WORKERS = 2


def interval_from_env(env: dict[str, str] | None = None) -> float:
    raw = (os.environ if env is None else env).get(ENV_INTERVAL, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_INTERVAL_S
    except ValueError:
        log.warning(
            "ignoring %s=%r: not a number; checking every %.0f s", ENV_INTERVAL, raw, DEFAULT_INTERVAL_S
        )
        return DEFAULT_INTERVAL_S
    return value if value > 0 else DEFAULT_INTERVAL_S


@dataclass(frozen=True)
class CheckRepos:
    """Timer: start a round."""


@dataclass(frozen=True)
class ReposListed:
    repos: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class RepoProbed:
    name: str


def probe_repository(repo: dict[str, Any], data_dir: str) -> str | None:
    """None if the repository answers, else the reason (the storage's own, never a secret)."""
    try:
        storage = open_repository(repo, data_dir)
        probe(storage, repo["root"], bool(repo["read_only"]))
    except StorageError as exc:
        return str(exc) or type(exc).__name__
    except Exception as exc:  # a probe must never kill the checker; the reason still reaches ErrMsg
        log.exception("repository %s: probe failed unexpectedly", repo.get("name"))
        return f"{type(exc).__name__}: {exc}"
    return None


class RepoChecker(Actor):
    def __init__(self, client: Any, interval_s: float | None = None, fe: str = "fe") -> None:
        self.client = client
        self.data_dir = str(client.data_dir)
        self.interval_s = interval_s if interval_s is not None else interval_from_env()
        self.fe = fe
        self.listing = False
        self.in_flight: set[str] = set()

    def started(self) -> None:
        self.pool = self.runtime.executor("repo-check", POOL_WORKERS)
        self.runtime.schedule(self.interval_s, self.name, CheckRepos())

    def receive(self, message: Any) -> Any:
        if isinstance(message, CheckRepos):
            self.runtime.schedule(self.interval_s, self.name, CheckRepos())
            if not self.listing:
                self.listing = True
                self.pool.submit(self._list)
        elif isinstance(message, ReposListed):
            self.listing = False
            for repo in message.repos:
                if repo["name"] not in self.in_flight:
                    self.in_flight.add(repo["name"])
                    self.pool.submit(functools.partial(self._probe, repo))
        elif isinstance(message, RepoProbed):
            self.in_flight.discard(message.name)
        else:
            raise TypeError(f"repository checker got unexpected message {message!r}")
        return None

    # -- on the pool ------------------------------------------------------------------------------
    def _list(self) -> None:
        repos: tuple[dict[str, Any], ...] = ()
        try:
            # A pool thread, not an actor, may wait for the frontend's answer.
            repos = tuple(self.client.read(RepositoriesToCheck()))
        except Exception:
            log.exception("cannot list repositories to check")
        finally:
            self.runtime.tell(self.name, ReposListed(repos))

    def _probe(self, repo: dict[str, Any]) -> None:
        try:
            error = probe_repository(repo, self.data_dir)
            if error != err_reason(repo.get("err_msg")):
                if error is None:
                    log.info("repository %s answers again", repo["name"])
                else:
                    log.warning("repository %s does not answer: %s", repo["name"], error)
                at = now_text(self.runtime.clock.now_ns())
                self.runtime.tell(
                    self.fe,
                    RepositoryStatus(name=repo["name"], id=repo["id"], error=error, at=at),
                )
        finally:
            self.runtime.tell(self.name, RepoProbed(repo["name"]))


def spawn_repo_checker(runtime: Runtime, client: Any, interval_s: float | None = None) -> None:
    """Start the checker once the frontend has recovered (it asks the frontend for the repositories)."""
    runtime.spawn(NAME, RepoChecker(client, interval_s))
