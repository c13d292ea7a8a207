#!/usr/bin/env bash
# Set up, lint, and run the whole test suite (slow tests included). Exit code: non-zero on any failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash dev/setup.sh
echo "[test] ruff check ."
.venv/bin/ruff check .
echo "[test] pytest"
# -rfEs: list failures, errors and skip reasons in the summary; the last line is pytest's summary line.
exec .venv/bin/python -m pytest -rfEs "$@"
