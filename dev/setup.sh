#!/usr/bin/env bash
# Set up a development machine: system tools (apt, only when missing) and the virtual environment at
# .venv with the `starbackup` command. Idempotent: a second run changes nothing and takes seconds.
# Works on a fresh Debian/Ubuntu with only python3 (>= 3.11) and apt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"

say() { printf '[setup] %s\n' "$*"; }

# --- system packages: mysql CLI (client test), zstd, restic (benchmarks); python3-venv on Debian -------
need=()
command -v mysql >/dev/null 2>&1 || need+=(mariadb-client)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
command -v restic >/dev/null 2>&1 || need+=(restic)
if [ ! -x .venv/bin/python ] && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need+=(python3-venv)
fi
if [ "${#need[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        say "missing ${need[*]} and no apt-get: install them by hand (tests needing them will be skipped)"
    else
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then
            if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
                say "missing ${need[*]}; run as root (or install sudo) to install them"; SUDO="skip"; fi
        fi
        if [ "$SUDO" != "skip" ]; then
            say "installing ${need[*]} with apt-get"
            export DEBIAN_FRONTEND=noninteractive
            apt_log="$(mktemp)"
            if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
                    >"$apt_log" 2>&1; then
                cat "$apt_log"; rm -f "$apt_log"
                say "apt-get failed"; exit 1
            fi
            rm -f "$apt_log"
        fi
    fi
fi

# --- Python >= 3.11 -------------------------------------------------------------------------------------
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    say "$PYTHON is $("$PYTHON" --version 2>&1); starbackup needs Python 3.11 or newer (set PYTHON=...)"
    exit 1
fi

# --- virtual environment --------------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$PYTHON" -m venv .venv
fi
# Re-install only when pyproject.toml changed since the last successful install (or nothing is installed).
stamp=.venv/.starbackup-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -x .venv/bin/starbackup ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing starbackup and its pinned dependencies into .venv"
    pip_log="$(mktemp)"
    if ! { .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip &&
           .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'; } >"$pip_log" 2>&1; then
        cat "$pip_log"; rm -f "$pip_log"
        say "pip install failed"; exit 1
    fi
    rm -f "$pip_log"
    echo "$want" > "$stamp"
fi
say "ready: $ROOT/.venv/bin/starbackup"
