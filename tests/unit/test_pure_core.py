"""The pure core (events/) must not reach for actors, threads, clocks, randomness or I/O libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_MODULES = {"pykka", "actors", "sqlite3", "duckdb", "minio", "pyarrow", "threading", "random", "time",
                     "storage", "sqlfront", "os", "socket", "uuid"}


def test_importing_the_core_loads_no_runtime() -> None:
    code = (
        "import sys; import events.fold, events.backup_job, events.restore_job, events.catalog, events.state; "
        "bad = sorted(m for m in ('pykka', 'duckdb', 'minio', 'pyarrow', 'actors', 'storage', 'sqlfront') "
        "if m in sys.modules); print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the pure core imported {out.stdout.strip()}"


def test_core_modules_import_no_clock_randomness_or_io() -> None:
    offenders = []
    for path in sorted((ROOT / "events").glob("*.py")):
        if path.name == "codec.py":
            continue  # codec is pure too but needs zstandard/msgpack only; checked by the test above
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            offenders += [f"{path.name}: {n}" for n in names if n in FORBIDDEN_MODULES]
    assert not offenders, offenders
