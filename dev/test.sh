#!/usr/bin/env bash
# Set up, lint, and run the whole test suite (slow tests included).
# ruff, mypy and pytest always run; the exit code is non-zero if any failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash dev/setup.sh || exit 1

echo "[test] ruff check ."
.venv/bin/ruff check .
lint=$?

echo "[test] mypy (strict on events/, storage/, engine/; the default level elsewhere)"
.venv/bin/mypy
types=$?

echo "[test] pytest"
# -rfEs lists failures, errors and skip reasons; pytest's summary line comes last.
.venv/bin/python -m pytest -rfEs "$@"
tests=$?

if [ "$lint" -ne 0 ]; then echo "[test] ruff check failed"; fi
if [ "$types" -ne 0 ]; then echo "[test] mypy failed"; fi
if [ "$tests" -ne 0 ]; then echo "[test] pytest failed (exit $tests)"; fi
[ "$lint" -eq 0 ] && [ "$types" -eq 0 ] && [ "$tests" -eq 0 ]
