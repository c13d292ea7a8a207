"""The engine package (DuckDB work shared by the SQL front and the MV refresher) sits below the front and
the actors: it imports only events and storage of ours, and no actor imports the SQL front."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _our_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & {"sqlfront", "actors", "engine", "events", "storage"}


def test_engine_imports_only_events_and_storage() -> None:
    bad = {p.name: _our_imports(p) - {"engine", "events", "storage"} for p in sorted((ROOT / "engine").glob("*.py"))}
    assert {k: v for k, v in bad.items() if v} == {}


def test_no_actor_imports_the_sql_front() -> None:
    bad = [p.name for p in sorted((ROOT / "actors").glob("*.py")) if "sqlfront" in _our_imports(p)]
    assert bad == []
