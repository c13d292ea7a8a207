"""Decide the publication of a load (INSERT, a synchronous MV's first rowsets): pure, like the catalog's.

The engine writes the rowset files first (outside the frontend), then sends `CommitLoad`; this checks that
the table and its tablets are still the ones the files were written for and makes one `load.committed`.
"""

from __future__ import annotations

from events.catalog import check_writable, get_table
from events.commands import CommitLoad
from events.errors import CatalogError
from events.event import Event
from events.state import ClusterState


def commit_load(s: ClusterState, c: CommitLoad) -> tuple[list[Event], int]:
    """Publish a load: each touched partition's version advances by one and its new rowsets become visible."""
    db, t = get_table(s, c.db, c.table)
    check_writable(t)
    if t.id != c.table_id:
        raise CatalogError(f"Table {t.name} was dropped and re-created during the load")
    parts = []
    rows = 0
    for part in c.partitions:
        partition = t.partition_by_id(part["partition_id"])
        if partition is None:
            raise CatalogError(f"Partition of table {t.name} was dropped during the load")
        live = {tid for ids in partition.tablets.values() for tid in ids}
        for r in part["rowsets"]:
            if r["tablet_id"] not in live:
                raise CatalogError(f"Table {t.name} was truncated or restored during the load; retry it")
            rows += r["rows"] if r.get("base", True) else 0
        parts.append({"partition_id": partition.id, "version": partition.visible_version + 1,
                      "rowsets": [{k: r[k] for k in ("tablet_id", "file", "rows", "size", "md5", "xxh3") if k in r}
                                  for r in part["rowsets"]]})
    ev = Event("load.committed", {"db_id": db.id, "table_id": t.id, "txn": c.txn, "partitions": parts},
               key=f"load/{c.txn}")
    return [ev], rows
