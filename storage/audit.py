"""`starbackup audit`: replay the event log read-only, verify it, print its history and job timelines.

Opens the SQLite file with mode=ro and takes no daemon lock, so it can run next to a live daemon (WAL
readers do not block the writer). Every row is verified (CRC, hash chain, stream sequence) before it is
decoded or printed: nothing after the first bad row is trusted.
"""

from __future__ import annotations

import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from storage.eventlog import ChainVerifier, StoredEvent, iter_rows, stored_event

LOG_FILE = "eventlog.sqlite3"
REDACTED = "******"
SENSITIVE = ("secret", "password", "key", "token")
SUMMARY_CHARS = 120


@dataclass
class _Timeline:
    first_ns: int
    last_ns: int
    events: int = 0
    states: list[str] = field(default_factory=list)  # consecutive repeats collapsed: the transitions


def redact(value: Any) -> Any:
    """A copy of value where every dict entry whose key names a secret has its value masked, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if _sensitive(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _sensitive(key: Any) -> bool:
    k = key.lower() if isinstance(key, str) else ""
    return any(word in k for word in SENSITIVE)


def iso_utc(time_ns: int) -> str:
    secs, rem = divmod(time_ns, 1_000_000_000)
    try:
        stamp = datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return f"<time_ns {time_ns}>"
    return f"{stamp}.{rem // 1000:06d}Z"


def summarize(data: dict[Any, Any]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}={fmt(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        if isinstance(v, bytes):
            return f"<{len(v)} bytes>"
        return str(v)

    text = " ".join(f"{k}={fmt(v)}" for k, v in redact(data).items())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 3] + "..."


def _open_read_only(path: Path) -> sqlite3.Connection:
    # mode=ro: SQLite refuses every write on this connection; the file itself is never modified.
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def _track(timelines: dict[str, _Timeline], ev: StoredEvent) -> None:
    if not ev.stream.startswith("job/"):
        return
    t = timelines.get(ev.stream)
    if t is None:
        t = timelines[ev.stream] = _Timeline(ev.time_ns, ev.time_ns)
    t.first_ns, t.last_ns = min(t.first_ns, ev.time_ns), max(t.last_ns, ev.time_ns)
    t.events += 1
    state = ev.data.get("state")
    if isinstance(state, str) and (not t.states or t.states[-1] != state):
        t.states.append(state)


def run_audit(data_dir: str, until_seq: int | None = None, out: TextIO | None = None) -> int:
    """0 if the log (up to until_seq) verifies, 1 if it was tampered with, 2 if there is no log.

    out defaults to sys.stdout at call time (not import time), so redirected stdout is honoured.
    """
    out = sys.stdout if out is None else out
    path = Path(data_dir) / LOG_FILE
    if not path.is_file():
        print(f"ERROR: no event log at {path}", file=out)
        return 2
    conn = _open_read_only(path)
    try:
        verifier = ChainVerifier()
        timelines: dict[str, _Timeline] = {}
        for row in iter_rows(conn, 0, until_seq):
            reason = verifier.check(row)
            if reason is not None:
                print(f"TAMPERED: first bad row seq={row[0]}: {reason}", file=out)
                return 1
            ev = stored_event(row)
            print(f"{ev.seq:>8} {iso_utc(ev.time_ns)} {ev.stream} {ev.type} v{ev.version} {summarize(ev.data)}",
                  file=out)
            _track(timelines, ev)
    finally:
        conn.close()
    for stream in sorted(timelines):
        t = timelines[stream]
        states = " -> ".join(t.states) if t.states else "-"
        print(f"{stream}: {iso_utc(t.first_ns)} .. {iso_utc(t.last_ns)}, {t.events} events, states: {states}",
              file=out)
    print(f"OK: {verifier.count} events, chain verified, head {verifier.head_hash.hex()}", file=out)
    return 0
