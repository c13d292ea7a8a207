#!/usr/bin/env bash
# Set up and run the demo: a daemon in a fresh local data directory, the sr_hub database, loads, queries.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash dev/setup.sh
DATA_DIR="${DEMO_DATA_DIR:-$ROOT/demo-data}"
# The demo is development equipment (dev/demo.py), run against this checkout's packages.
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec .venv/bin/python dev/demo.py --data-dir "$DATA_DIR" "$@"
