#!/usr/bin/env bash
# Set up and run the demo: a daemon in a fresh local data directory, the sr_hub database, loads, queries.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash dev/setup.sh
DATA_DIR="${DEMO_DATA_DIR:-$ROOT/demo-data}"
exec .venv/bin/starbackup demo --data-dir "$DATA_DIR" "$@"
