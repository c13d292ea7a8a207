"""The event log's SQLite schema: the append-only `events` table (triggers refuse UPDATE and DELETE), the
`snapshots` cache and the `chain` record; and the writer connection's settings (WAL, synchronous=FULL)."""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 2  # 2: snapshots.mac and the chain record (keyed hash chain)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events(
    seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, stream_seq INTEGER NOT NULL, type TEXT NOT NULL,
    version INTEGER NOT NULL, time_ns INTEGER NOT NULL, payload BLOB NOT NULL, flags INTEGER NOT NULL,
    idem_key TEXT UNIQUE NULL, crc INTEGER NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL,
    UNIQUE(stream, stream_seq));
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'event log is append-only'); END;
CREATE TABLE IF NOT EXISTS snapshots(
    seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, payload BLOB NOT NULL, flags INTEGER NOT NULL,
    head_hash BLOB NOT NULL, crc INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chain(
    id INTEGER PRIMARY KEY CHECK (id = 1), keyed_from INTEGER NOT NULL, mac BLOB NOT NULL);
"""


# --- the log -----------------------------------------------------------------------------------------------


def configure_writer(c: sqlite3.Connection, path: str) -> None:
    """Put the log's writer connection in WAL mode with synchronous=FULL and create or upgrade the schema."""
    c.execute("PRAGMA busy_timeout=10000")
    mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise RuntimeError(f"could not put {path} in WAL mode (got {mode})")
    c.execute("PRAGMA synchronous=FULL")  # fsync the WAL on every commit: durable on return
    c.execute("BEGIN IMMEDIATE")
    try:
        found = c.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            raise RuntimeError(f"{path} has schema {found}, newer than this code ({SCHEMA_VERSION})")
        for stmt in _SCHEMA.split(";\n"):
            if stmt.strip():
                c.execute(stmt)
        columns = {row[1] for row in c.execute("PRAGMA table_info(snapshots)")}
        if "mac" not in columns:  # schema 1 -> 2: snapshots carry an HMAC under the log's key
            c.execute("ALTER TABLE snapshots ADD COLUMN mac BLOB NULL")
        c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise
