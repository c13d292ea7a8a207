"""`starbackup audit`: replay the event log read-only, verify it, print its history and job timelines.

Opens the SQLite file with mode=ro and takes no daemon lock, so it can run next to a live daemon (WAL
readers do not block the writer). Every row is verified (CRC, hash chain keyed with `eventlog.key`, stream
sequence) before it is decoded or printed: nothing after the first bad row is trusted. Then the head
anchor (`eventlog.head`, read before the rows) must name a row that was verified, with its hash: a log
shorter than its anchor lost its newest rows. Snapshots are checked and reported (they are a cache).

Exit status: 0 verified, 1 damaged or altered (one line saying what and where), 2 no log at all.
"""

from __future__ import annotations

import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from events.timefmt import iso_utc
from storage.log_rows import (
    PLAIN,
    ChainVerifier,
    LogIntegrityError,
    StoredEvent,
    Trust,
    iter_rows,
    stored_event,
)
from storage.log_snapshots import snapshot_reason
from storage.log_trust import (
    Anchor,
    anchor_path,
    has_chain_record,
    key_path,
    read_anchor,
    read_chain,
    read_key,
)
from storage.secrets import is_secret_key

LOG_FILE = "eventlog.sqlite3"
REDACTED = "******"
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
        return {k: REDACTED if isinstance(k, str) and is_secret_key(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


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
    """0 if the log (up to until_seq) verifies, 1 if it is damaged or was tampered with, 2 if there is no log.

    out defaults to sys.stdout at call time (not import time), so redirected stdout is honoured.
    """
    out = sys.stdout if out is None else out
    path = Path(data_dir) / LOG_FILE
    if not path.is_file():
        print(f"ERROR: no event log at {path}", file=out)
        return 2
    try:
        return _audit(path, until_seq, out)
    except LogIntegrityError as e:
        print(f"{'ERROR' if e.kind == 'unreadable' else e.kind.upper()}: {e}", file=out)
    except sqlite3.Error as e:  # truncated, garbage, not SQLite, not ours: damaged, whatever the cause
        print(f"DAMAGED: cannot read the event log {path}: {e}", file=out)
    except OSError as e:
        print(f"ERROR: cannot read the event log {path}: {e.strerror or e}", file=out)
    return 1


def _audit(path: Path, until_seq: int | None, out: TextIO) -> int:
    conn = _open_read_only(path)
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "events" not in tables:
            print(f"DAMAGED: {path} is not a starbackup event log (it has no events table)", file=out)
            return 1
        # The file's own structure first (missing or torn pages, e.g. a truncated file), so damage is called
        # damage rather than tampering; ~2.5 s for a 450 MB log, small next to printing a million rows.
        problems = [p for (p,) in conn.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            print(f"DAMAGED: {path} fails SQLite's integrity check: {'; '.join(problems)}", file=out)
            return 1
        trust, anchor, note = _trust(conn, str(path))
        verifier = ChainVerifier(trust)
        timelines: dict[str, _Timeline] = {}
        anchored: bytes | None = None
        for row in iter_rows(conn, 0, until_seq):
            reason = verifier.check(row)
            if reason is not None:
                print(f"TAMPERED: first bad row seq={row[0]}: {reason}", file=out)
                return 1
            try:
                ev = stored_event(row)
            except Exception as e:  # verified bytes that do not decode
                print(f"TAMPERED: first bad row seq={row[0]}: payload does not decode ({type(e).__name__})",
                      file=out)
                return 1
            if anchor is not None and ev.seq == anchor.seq:
                anchored = ev.hash
            print(f"{ev.seq:>8} {iso_utc(ev.time_ns)} {ev.stream} {ev.type} v{ev.version} {summarize(ev.data)}",
                  file=out)
            _track(timelines, ev)
        snapshots = _snapshot_lines(conn, trust)
    finally:
        conn.close()
    for stream in sorted(timelines):
        t = timelines[stream]
        states = " -> ".join(t.states) if t.states else "-"
        print(f"{stream}: {iso_utc(t.first_ns)} .. {iso_utc(t.last_ns)}, {t.events} events, states: {states}",
              file=out)
    for line in snapshots:
        print(line, file=out)
    if trust.key is not None:
        kept = f"seq 1..{trust.keyed_from - 1} plain SHA-256, " if trust.keyed_from > 1 else ""
        print(f"chain: {kept}seq {trust.keyed_from}.. HMAC-SHA256 under {key_path(path)}", file=out)
    if not _anchor_holds(anchor, anchored, note, verifier, until_seq, out):
        return 1
    print(f"OK: {verifier.count} events, chain verified, head {verifier.head_hash.hex()}", file=out)
    return 0


def _anchor_holds(anchor: Anchor | None, anchored: bytes | None, note: str, verifier: ChainVerifier,
                  until_seq: int | None, out: TextIO) -> bool:
    """Print the head anchor's line; False (after a TAMPERED line) if the rows contradict it.
    `anchored`: the hash of the verified row at the anchor's seq, None if that row was not read."""
    if anchor is None:
        print(f"anchor: {note}", file=out)
    elif anchor.seq == 0:
        print("anchor: empty log (seq 0)", file=out)
    elif anchored is not None:
        if anchored != anchor.hash:
            print(f"TAMPERED: first bad row seq={anchor.seq}: its hash is not the one the head anchor records "
                  "(rows were rewritten)", file=out)
            return False
        behind = verifier.head_seq - anchor.seq
        lag = f" ({behind} newer rows after it)" if behind else ""
        print(f"anchor: head seq {anchor.seq} verified{lag}", file=out)
    elif until_seq is not None and anchor.seq > until_seq:
        print(f"anchor: head seq {anchor.seq} is beyond --until-seq {until_seq}: not checked", file=out)
    else:
        print(f"TAMPERED: first bad row seq={verifier.head_seq + 1}: the log ends at seq {verifier.head_seq} but "
              f"its head anchor records seq {anchor.seq}: the newest rows were removed", file=out)
        return False
    return True


def _trust(conn: sqlite3.Connection, path: str) -> tuple[Trust, Anchor | None, str]:
    """The chain's key and record and the anchor (read before the rows: the log is at least that long)."""
    key = read_key(path)
    if key is None:
        keyed_from = has_chain_record(conn)
        top = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
        if keyed_from is not None and top >= keyed_from:
            raise LogIntegrityError(path, f"the chain key {key_path(path)} is missing: rows from seq {keyed_from} "
                                          "are chained with it (restore the key file)")
        return PLAIN, None, (f"none: no chain key yet (a log from before keyed chains, plain SHA-256; the daemon "
                             f"adopts it at its next start and writes {anchor_path(path)})")
    trust = read_chain(conn, path, key)
    return trust, read_anchor(path, key), ""


def _snapshot_lines(conn: sqlite3.Connection, trust: Trust) -> list[str]:
    cols = {row[1] for row in conn.execute("PRAGMA table_info(snapshots)")}
    mac = "mac" if "mac" in cols else "NULL"
    lines = []
    for snap in conn.execute(f"SELECT seq, time_ns, payload, flags, head_hash, crc, {mac} FROM snapshots ORDER BY seq"):
        reason = snapshot_reason(conn, snap, trust)
        state = "verified" if reason is None else f"NOT USED: {reason}"
        lines.append(f"snapshot at seq {snap[0]}: {state}")
    return lines
