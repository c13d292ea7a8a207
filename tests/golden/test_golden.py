"""Old event logs still verify and still fold to what they meant when they were written (design §4)."""

from __future__ import annotations

import io
import shutil
import sqlite3
from pathlib import Path

import pytest

from events.event import EVENT_TYPES
from events.fold import digest
from storage.audit import run_audit
from tests.golden.golden import HERE, expected, fold_log, names, summary

REGENERATE = "python -m tests.golden.golden --update-digest"


def test_there_are_golden_logs() -> None:
    assert "catalog_v1" in names()


@pytest.mark.parametrize("name", names())
def test_golden_log_verifies(name: str) -> None:
    report, _ = fold_log(HERE / f"{name}.sqlite3")
    exp = expected(name)
    assert report.ok, f"{name}: {report.reason} at seq {report.bad_seq}"
    assert report.count == exp["events"]
    assert report.head_hash.hex() == exp["head_hash"]


@pytest.mark.parametrize("name", names())
def test_golden_log_types_are_known(name: str) -> None:
    db = sqlite3.connect(f"file:{HERE / f'{name}.sqlite3'}?mode=ro", uri=True)
    try:
        stored = db.execute("SELECT DISTINCT type, version FROM events").fetchall()
    finally:
        db.close()
    for type_, version in stored:
        assert type_ in EVENT_TYPES, f"{name}: event type {type_!r} no longer exists (keep old types forever)"
        assert version <= EVENT_TYPES[type_], f"{name}: {type_} v{version} is newer than the code"


@pytest.mark.parametrize("name", names())
def test_golden_log_folds_to_the_same_catalog(name: str) -> None:
    _, state = fold_log(HERE / f"{name}.sqlite3")
    exp = expected(name)
    assert summary(state) == exp["summary"], (
        f"{name}: the old log now means something else: a stored event type changed meaning. "
        "Add a new type or version with an upcaster instead of changing an old one.")
    assert digest(state) == exp["digest"], (
        f"{name}: same catalog, different state digest: the state's shape changed. If that is deliberate "
        f"(a new field with a default), refresh the expected digest with `{REGENERATE}`.")
    # Folding twice is byte-identical.
    assert digest(fold_log(HERE / f"{name}.sqlite3")[1]) == exp["digest"]


@pytest.mark.parametrize("name", names())
def test_audit_accepts_golden_log(name: str, tmp_path: Path) -> None:
    shutil.copyfile(HERE / f"{name}.sqlite3", tmp_path / "eventlog.sqlite3")
    out = io.StringIO()
    assert run_audit(str(tmp_path), out=out) == 0, out.getvalue()[-2000:]
    assert out.getvalue().strip().splitlines()[-1] == f"OK: {expected(name)['events']} events, chain verified, " \
                                                      f"head {expected(name)['head_hash']}"
