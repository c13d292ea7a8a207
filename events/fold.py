"""The fold: how events build the cluster state, and the state's snapshot and digest.

One state, one fold: `apply` looks the event's type up in one table merged, explicitly, from the tables
of the modules that define appliers (the catalog's, the backup and the restore state machines'). The
fold reads nothing besides the event: no clock, no randomness, no I/O, so the same log always folds to
byte-identical state (see `digest`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import msgpack

from events import appliers, backup_evolve, restore_evolve
from events.job_common import compact_if_done
from events.password import native_password_hash
from events.plain import load, to_plain
from events.state import Applier, ClusterState


def _merge(*tables: dict[str, Applier]) -> dict[str, Applier]:
    merged: dict[str, Applier] = {}
    for table in tables:
        clash = set(merged) & set(table)
        assert not clash, f"event types with two appliers: {sorted(clash)}"
        merged.update(table)
    return merged


APPLIERS: dict[str, Applier] = _merge(appliers.APPLIERS, backup_evolve.APPLIERS, restore_evolve.APPLIERS)


def apply(state: ClusterState, event_type: str, data: dict[str, Any], seq: int = 0) -> None:
    """Fold one event into the state. Unknown types are an error: a log must never outrun its code."""
    applier = APPLIERS.get(event_type)
    if applier is None:
        raise KeyError(f"no applier for event type {event_type!r}")
    if "next_id" in data:
        state.next_id = max(state.next_id, int(data["next_id"]))
    applier(state, data)
    if seq:
        state.last_seq = seq


def fold(evs: Iterable[Any], state: ClusterState | None = None) -> ClusterState:
    """Fold an iterable of (type, data[, seq]) tuples or StoredEvent-like objects."""
    state = state or ClusterState()
    for ev in evs:
        if isinstance(ev, tuple):
            apply(state, ev[0], ev[1], ev[2] if len(ev) > 2 else 0)
        else:
            apply(state, ev.type, ev.data, ev.seq)
    return state


def snapshot(state: ClusterState) -> dict[str, Any]:
    plain: dict[str, Any] = to_plain(state)
    return plain


def restore_snapshot(data: dict[str, Any]) -> ClusterState:
    state = load(ClusterState, data)
    if data.get("root_password") and not state.root_password_hash:  # a snapshot from before the hash
        state.root_password_hash = native_password_hash(data["root_password"])
    for job in state.jobs.values():
        compact_if_done(job)  # snapshots taken before ended jobs were compacted in the fold
    return state


def digest(state: ClusterState) -> str:
    """A stable hash of the whole state, to prove that two folds agree."""
    plain = to_plain(state)
    plain.pop("last_seq", None)
    return hashlib.sha256(msgpack.packb(_sorted(plain), use_bin_type=True)).hexdigest()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value
