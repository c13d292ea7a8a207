"""Ids and placement: the state's id counter handed out by decisions, and where replicas of tablets live."""

from __future__ import annotations

from typing import Any

from events.errors import CatalogError
from events.model import Tablet
from events.plain import to_plain
from events.state import ClusterState


class Ids:
    """Hands out ids from the state's counter; the events carry `next_id` so replay advances it too."""

    def __init__(self, state: ClusterState) -> None:
        self.next = state.next_id

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value


def place_replicas(state: ClusterState, tablet_id: int, replication_num: int) -> list[int]:
    """Round-robin replicas over the backends by tablet id: deterministic and evenly spread."""
    backends = sorted(state.backends)
    if replication_num > len(backends):
        raise CatalogError(
            f"Table replication num should be less than or equal to the number of available BE nodes. "
            f"You can change this default by setting the replication_num table properties. Current "
            f"alive backend is [{len(backends)}]. , table=, properties.replication_num={replication_num}"
        )
    start = tablet_id % len(backends)
    return [backends[(start + i) % len(backends)] for i in range(replication_num)]


def default_replication(state: ClusterState) -> int:
    return min(state.config_int("default_replication_num"), max(1, len(state.backends)))


def replication_of(state: ClusterState, properties: dict[str, str]) -> int:
    raw = properties.get("replication_num", properties.get("default.replication_num"))
    if raw is None:
        return default_replication(state)
    try:
        value = int(raw)
    except ValueError:
        raise CatalogError(f"Invalid replication_num: {raw}") from None
    if value <= 0:
        raise CatalogError("Replication num should larger than 0")
    return value


def new_tablets(
    state: ClusterState, ids: Ids, index_ids: list[int], buckets: int, replication_num: int
) -> tuple[dict[int, list[int]], list[dict[str, Any]]]:
    """Create `buckets` tablets for each index; returns (index id -> tablet ids, plain tablets)."""
    by_index: dict[int, list[int]] = {}
    tablets: list[dict[str, Any]] = []
    for index_id in index_ids:
        by_index[index_id] = []
        for _ in range(buckets):
            tid = ids.take()
            by_index[index_id].append(tid)
            tablets.append(to_plain(Tablet(id=tid, backends=place_replicas(state, tid, replication_num))))
    return by_index, tablets
