"""The frontend's one command table (actors/fe_table.py): typed command and query values, looked up by type."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

from actors.fe_table import FRONTEND_TABLE, build_table
from actors.frontend import Frontend
from actors.sim import SimRuntime
from events import commands, queries
from events.commands import Command, CreateDatabase, DropDatabase
from events.errors import CatalogError
from events.queries import Databases, Query, ShowBackup, Shown


def _kinds(module: object, base: type) -> set[type]:
    return {cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, base) and cls is not base and cls.__module__ == module.__name__}  # type: ignore[attr-defined]


def test_every_command_and_query_has_exactly_one_entry() -> None:
    kinds = _kinds(commands, Command) | _kinds(queries, Query)
    assert set(FRONTEND_TABLE) == kinds


def test_values_are_frozen_plain_data() -> None:
    c = CreateDatabase(name="a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.name = "b"  # type: ignore[misc]
    assert dataclasses.asdict(c) == {"name": "a", "if_not_exists": False}


def test_a_type_listed_twice_is_refused() -> None:
    entry = (CreateDatabase, FRONTEND_TABLE[CreateDatabase])
    with pytest.raises(ValueError, match="CreateDatabase is in the frontend's table twice"):
        build_table(entry, entry)


def _frontend(tmp_path: Path, table: object) -> SimRuntime:
    sim = SimRuntime(1)
    sim.spawn("fe", Frontend(tmp_path, backends=1, tick=False, handlers=table))  # type: ignore[arg-type]
    return sim


def test_unknown_command_or_query_type_is_a_clear_error(tmp_path: Path) -> None:
    sim = _frontend(tmp_path, build_table((CreateDatabase, FRONTEND_TABLE[CreateDatabase]),
                                          (Databases, FRONTEND_TABLE[Databases])))
    sim.ask("fe", CreateDatabase(name="a"))
    assert sim.ask("fe", Databases()) == ["a"]
    with pytest.raises(CatalogError, match="unknown command DropDatabase: not in the frontend's table"):
        sim.ask("fe", DropDatabase(name="a"))
    with pytest.raises(CatalogError, match="unknown query ShowBackup"):
        sim.ask("fe", ShowBackup())
    assert sim.ask("fe", Databases()) == ["a"]  # the refusal changed nothing
    sim.stop_all()


def test_a_show_answers_with_its_columns(tmp_path: Path) -> None:
    sim = _frontend(tmp_path, FRONTEND_TABLE)
    shown = sim.ask("fe", ShowBackup())
    assert isinstance(shown, Shown)
    assert shown.rows == []
    assert shown.columns[:4] == ("JobId", "SnapshotName", "DbName", "State")
    sim.stop_all()
