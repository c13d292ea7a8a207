"""CREATE [READ ONLY] REPOSITORY, DROP REPOSITORY, SHOW REPOSITORIES.

CREATE does its remote I/O here, on the session's worker thread, never inside the frontend actor: build
the storage, prove it can be listed (and, unless READ ONLY, written), pick the repository root (an
existing `__palo_repository_<name>` wins), adopt or write `__repo_info`, and only then send the command
that appends `repository.created` with the properties sealed.
"""

from __future__ import annotations

import logging

from events import commands
from events.errors import CatalogError
from events.queries import Repositories, RepositoryPrecheck
from sqlfront.handler_base import HandlerSession, Result, fmt_time
from sqlfront.parse.ast import CreateRepository, DropRepository, ShowRepositories
from storage.repo import RepoStorage, StorageError, make_storage
from storage.repo_access import normalize_location, now_text, parse_repo_time
from storage.repo_layout import REPO_INFO, read_or_create_repo_info, repo_root
from storage.secrets import SecretBox

log = logging.getLogger("starbackup.repo")

SHOW_COLUMNS = ["RepoId", "RepoName", "CreateTime", "IsReadOnly", "Location", "Broker", "ErrMsg"]


def _failed(reason: object) -> CatalogError:
    return CatalogError(f"Failed to create repository: {reason}")


def _init_remote(storage: RepoStorage, name: str, read_only: bool, now: str) -> tuple[str, str]:
    """(root, create_time text) after checking the location; StorageError with the storage's reason."""
    if read_only:
        # Listed, never written: another cluster owns this repository.
        root = repo_root(name, storage)
        info_key = f"{root}/{REPO_INFO}"
        if storage.exists(info_key):
            info = read_or_create_repo_info(storage, root, name, now)  # reads only: the file exists
            return root, info["create_time"]
        storage.list_objects(root + "/")
        return root, now
    storage.check()
    root = repo_root(name, storage)
    info = read_or_create_repo_info(storage, root, name, now)
    return root, info["create_time"]


def create_repository(s: HandlerSession, ast: CreateRepository) -> Result:
    s.cluster.read(RepositoryPrecheck(name=ast.name, broker=ast.broker))
    location = normalize_location(ast.location)
    props = dict(ast.properties)
    now_ns = s.cluster.runtime.clock.now_ns()
    try:
        storage = make_storage(location, props)
        root, create_time = _init_remote(storage, ast.name, ast.read_only, now_text(now_ns))
    except StorageError as e:
        raise _failed(e) from None
    adopted_ns = parse_repo_time(create_time)
    sealed = SecretBox(s.cluster.data_dir).seal(props)
    s.cluster.cmd(commands.CreateRepository(
        name=ast.name,
        location=location,
        read_only=ast.read_only,
        broker=ast.broker,
        properties=sealed,
        create_time_ns=adopted_ns if adopted_ns is not None else now_ns,
        root=root,
    ))
    log.info(
        "repository %s created (%s, root %s%s)",
        ast.name,
        location.split(":", 1)[0],
        root,
        ", read only" if ast.read_only else "",
    )
    return [], []


def drop_repository(s: HandlerSession, ast: DropRepository) -> Result:
    s.cluster.cmd(commands.DropRepository(name=ast.name))
    log.info("repository %s dropped (remote data kept)", ast.name)
    return [], []


def show_repositories(s: HandlerSession, ast: ShowRepositories) -> Result:
    rows = [
        (
            str(r["id"]),
            r["name"],
            fmt_time(r["create_time_ns"]),
            "true" if r["read_only"] else "false",
            r["location"],
            r["broker"],
            r["err_msg"],
        )
        for r in s.cluster.read(Repositories())
    ]
    return rows, SHOW_COLUMNS
