"""Pure decide functions for views, MVs, UDFs and catalogs; UDF registration in DuckDB; sync MV parsing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from events import catalog, objects
from events.catalog import PartitionSpec, TableSpec
from events.errors import CatalogError
from events.event import Event
from events.fold import apply, digest, fold
from events.model import Column, Function, MvInfo, Table
from events.plain import load
from events.state import ClusterState
from storage.secrets import SecretBox

NOW = 1_700_000_000_000_000_000


class Log:
    """A state plus the events applied to it, so a test can prove replay gives the same state."""

    def __init__(self) -> None:
        self.state = ClusterState()
        self.events: list[tuple[str, dict]] = []
        self.commit([Event("cluster.initialized", {"backends": [{"id": 1, "host": "h", "port": 1},
                                                                 {"id": 2, "host": "h", "port": 2}]})])
        self.commit(catalog.create_database(self.state, "d", False))

    def commit(self, evs: list[Event]) -> list[Event]:
        for e in evs:
            apply(self.state, e.type, e.data)
            self.events.append((e.type, e.data))
        return evs


@pytest.fixture
def log() -> Log:
    lg = Log()
    spec = TableSpec(name="t", columns=[Column("k", "INT", is_key=True), Column("v", "INT")], key_columns=["k"],
                     partition_type="RANGE", partition_columns=["k"],
                     partitions=[PartitionSpec("p1", upper=["10"]), PartitionSpec("p2", upper=["20"])],
                     distribution_columns=["k"], buckets=2, properties={"replication_num": "1"})
    lg.commit(catalog.create_table(lg.state, "d", spec, False))
    return lg


def table(lg: Log, name: str) -> Table:
    return lg.state.databases["d"].tables[name]


# ---------------------------------------------------------------- views


def test_view_create_alter_drop(log: Log) -> None:
    cols = [Column("k", "INT")]
    log.commit(objects.create_view(log.state, "d", "v", "select k from t", cols, [], "c", False, False))
    assert table(log, "v").kind == "VIEW" and table(log, "v").view_sql == "select k from t"
    with pytest.raises(CatalogError, match="already exists"):
        objects.create_view(log.state, "d", "v", "select 1", cols, [], "", False, False)
    assert objects.create_view(log.state, "d", "v", "select 1", cols, [], "", True, False) == []
    evs = log.commit(objects.create_view(log.state, "d", "v", "select 2", cols, [], "c2", False, True))
    assert [e.type for e in evs] == ["table.altered"] and table(log, "v").view_sql == "select 2"
    log.commit(objects.alter_view(log.state, "d", "v", "select 3 x", [Column("x", "INT")], ["x"]))
    assert table(log, "v").view_columns == ["x"] and table(log, "v").comment == "c2"
    with pytest.raises(CatalogError, match="is not a view"):
        objects.alter_view(log.state, "d", "t", "select 1", cols, [])
    with pytest.raises(CatalogError, match="is not a view"):
        objects.drop_view(log.state, "d", "t", False)
    log.commit(objects.drop_view(log.state, "d", "v", False))
    assert "v" not in log.state.databases["d"].tables
    assert objects.drop_view(log.state, "d", "v", True) == []


# ---------------------------------------------------------------- sync MVs


def test_sync_mv_is_an_index_with_tablets_in_every_partition(log: Log) -> None:
    schema = [Column("k", "INT", is_key=True), Column("s", "BIGINT", aggregation="SUM")]
    log.commit(objects.create_sync_mv(log.state, "d", "smv", "t", "select k, sum(v) s from t group by k", schema,
                                      "AGG_KEYS", False))
    t = table(log, "t")
    (idx,) = [i for i in t.indexes.values() if i.id != t.base_index_id]
    assert idx.name == "smv" and idx.keys_type == "AGG_KEYS"
    for p in t.partitions.values():
        assert len(p.tablets[idx.id]) == 2
        assert all(tid in log.state.tablets for tid in p.tablets[idx.id])
    with pytest.raises(CatalogError, match="already exists"):
        objects.create_sync_mv(log.state, "d", "smv", "t", "x", schema, "AGG_KEYS", False)
    with pytest.raises(CatalogError, match="already exists"):
        objects.create_view(log.state, "d", "smv", "select 1", [], [], "", False, False)
    log.commit(objects.drop_mv(log.state, "d", "smv", False))
    assert list(t.indexes) == [t.base_index_id]
    assert all(list(p.tablets) == [t.base_index_id] for p in t.partitions.values())
    with pytest.raises(CatalogError, match="not found"):
        objects.drop_mv(log.state, "d", "smv", False)


def test_sync_mv_refused_on_primary_key_tables(log: Log) -> None:
    spec = TableSpec(name="pk", columns=[Column("k", "INT", is_key=True), Column("v", "INT")], keys_type="PRIMARY_KEYS",
                     key_columns=["k"], distribution_columns=["k"], buckets=1, properties={"replication_num": "1"})
    log.commit(catalog.create_table(log.state, "d", spec, False))
    with pytest.raises(CatalogError, match="DUPLICATE KEY and AGGREGATE KEY"):
        objects.create_sync_mv(log.state, "d", "m", "pk", "select k from pk", [Column("k", "INT")], "DUP_KEYS", False)


def test_mv_select_names_and_limits() -> None:
    from engine.sync_mv import mv_select, over_source

    tree, outs = mv_select("select k, sum(v), count(*), max(v) as mx from t where v > 0 group by k")
    assert [o["name"] for o in outs] == ["k", "mv_sum_v", "mv_count_star", "mx"]
    assert [o["aggregation"] for o in outs] == [None, "SUM", "COUNT", "MAX"]
    sql = over_source(tree, "SELECT 1 AS k, 2 AS v")
    assert duckdb.sql(sql).fetchall() == [(1, 2, 1, 2)]
    for bad, msg in [("select k, avg(v) from t group by k", "only sum, min, max and count"),
                     ("select a.k from t a join u b on a.k = b.k", "exactly one table"),
                     ("select * from t", "name the columns"),
                     ("select k, sum(v) from t", "GROUP BY")]:
        with pytest.raises(CatalogError, match=msg):
            mv_select(bad)


# ---------------------------------------------------------------- async MVs


def _async_mv(log: Log, interval: int | None = 60, start: str | None = None) -> Table:
    spec = TableSpec(name="amv", columns=[Column("k", "INT", is_key=True), Column("s", "BIGINT")], key_columns=["k"],
                     distribution="RANDOM", properties={"replication_num": "1"})
    info = MvInfo(definition="select k, sum(v) s from t group by k", refresh="ASYNC", refresh_start=start,
                  refresh_interval_s=interval, base_tables=[["d", "t"]])
    log.commit(objects.create_async_mv(log.state, "d", spec, info, False))
    return table(log, "amv")


def test_async_mv_refresh_swaps_tablets_in_one_event(log: Log) -> None:
    mv = _async_mv(log)
    assert mv.kind == "MATERIALIZED_VIEW" and mv.mv is not None and len(mv.partitions) == 1
    (part,) = mv.partitions.values()
    old = list(part.tablets[mv.base_index_id])
    evs, plan = objects.refresh_start(log.state, "d", "amv", NOW)
    log.commit(evs)
    assert mv.mv.last_refresh_state == "RUNNING"
    new = plan["new_tablets"][str(part.id)]
    assert not {t["id"] for t in new} & set(log.state.tablets)
    assert log.state.next_id > max(t["id"] for t in new)  # reserved: never handed out again
    rowsets = [{"version": 0, "file": "x.parquet", "rows": 3, "size": 10}]
    parts = [{"partition_id": part.id, "tablets": [{**new[0], "rowsets": rowsets}]}]
    evs, result = objects.refresh_finish(log.state, "d", "amv", mv.id, NOW, parts, NOW + 5)
    log.commit(evs)
    assert result == "SUCCESS" and len(evs) == 1
    assert part.tablets[mv.base_index_id] == [new[0]["id"]]
    assert set(old) <= set(log.state.garbage_tablets)
    assert log.state.tablets[new[0]["id"]].rowsets[0].version == part.visible_version
    assert mv.mv.last_refresh_state == "SUCCESS" and mv.mv.last_refresh_start_ns == NOW
    assert mv.mv.last_refresh_time_ns == NOW + 5


def test_async_mv_superseded_and_failed_refreshes(log: Log) -> None:
    mv = _async_mv(log)
    (part,) = mv.partitions.values()
    evs1, plan1 = objects.refresh_start(log.state, "d", "amv", NOW)
    log.commit(evs1)
    log.commit(objects.refresh_start(log.state, "d", "amv", NOW + 1)[0])
    parts = [{"partition_id": part.id, "tablets": plan1["new_tablets"][str(part.id)]}]
    assert objects.refresh_finish(log.state, "d", "amv", mv.id, NOW, parts, NOW + 2) == ([], "SUPERSEDED")
    assert objects.refresh_failed(log.state, "d", "amv", mv.id, NOW, "old", NOW + 2) == []
    log.commit(objects.refresh_failed(log.state, "d", "amv", mv.id, NOW + 1, "boom", NOW + 3))
    assert mv.mv is not None and mv.mv.last_refresh_state == "FAILED" and mv.mv.last_refresh_error == "boom"


def test_async_mv_active_inactive_and_base_table_drop(log: Log) -> None:
    mv = _async_mv(log)
    assert mv.mv is not None
    log.commit(objects.alter_mv_active(log.state, "d", "amv", False))
    assert not mv.mv.is_active and "inactive" in mv.mv.inactive_reason
    with pytest.raises(CatalogError, match="inactive"):
        objects.refresh_start(log.state, "d", "amv", NOW)
    log.commit(objects.alter_mv_active(log.state, "d", "amv", True))
    assert mv.mv.is_active and mv.mv.inactive_reason == ""
    log.commit(catalog.drop_table(log.state, "d", "t", False))
    assert not mv.mv.is_active and mv.mv.inactive_reason == "base-table dropped: t"
    with pytest.raises(CatalogError, match=r"base table\(s\) \[d.t\] do not exist"):
        objects.alter_mv_active(log.state, "d", "amv", True)
    with pytest.raises(CatalogError, match="not found"):
        objects.alter_mv_active(log.state, "d", "nope", True)


def test_due_refreshes_follow_interval_and_start(log: Log) -> None:
    _async_mv(log, interval=60)
    assert objects.due_refreshes(log.state, NOW, {}) == [("d", "amv")]  # never refreshed
    log.commit(objects.refresh_start(log.state, "d", "amv", NOW)[0])
    assert objects.due_refreshes(log.state, NOW + 59 * 10**9, {}) == []
    assert objects.due_refreshes(log.state, NOW + 60 * 10**9, {}) == [("d", "amv")]
    assert objects.due_refreshes(log.state, NOW + 60 * 10**9, {"d.amv": NOW + 100 * 10**9}) == []
    log.commit(objects.alter_mv_active(log.state, "d", "amv", False))
    assert objects.due_refreshes(log.state, NOW + 600 * 10**9, {}) == []


def test_interval_units() -> None:
    assert objects.interval_seconds(2, "MINUTE") == 120
    assert objects.interval_seconds(1, "DAYS") == 86400
    assert objects.interval_seconds(None, None) is None
    with pytest.raises(CatalogError):
        objects.interval_seconds(1, "FORTNIGHT")


# ---------------------------------------------------------------- functions


def _py(name: str, args: list[str], symbol: str = "f", body: str = "def f(x):\n    return x\n") -> Function:
    return Function(name=name, arg_types=args, return_type=args[0] if args else "INT",
                    properties={"symbol": symbol, "type": "Python", "file": "inline"}, body=body)


def test_functions_overload_and_drop(log: Log) -> None:
    log.commit(objects.create_function(log.state, "d", _py("f", ["INT"]), False))
    log.commit(objects.create_function(log.state, "d", _py("f", ["STRING"]), False))
    with pytest.raises(CatalogError, match="already exists"):
        objects.create_function(log.state, "d", _py("f", ["INT"]), False)
    assert objects.create_function(log.state, "d", _py("f", ["INT"]), True) == []
    assert [f.signature for f in log.state.databases["d"].functions] == ["f(INT)", "f(STRING)"]
    log.commit(objects.drop_function(log.state, "d", "f", ["STRING"], False))
    assert [f.signature for f in log.state.databases["d"].functions] == ["f(INT)"]
    with pytest.raises(CatalogError, match="Unknown function"):
        objects.drop_function(log.state, "d", "f", ["STRING"], False)


def test_function_validation(log: Log) -> None:
    java = Function(name="j", arg_types=["INT"], return_type="INT",
                    properties={"symbol": "a.B", "type": "StarrocksJar", "file": "http://h/j.jar"})
    assert objects.create_function(log.state, "d", java, False)
    bad = [
        (Function("x", ["INT"], "INT", {"symbol": "f", "type": "Lua"}), "Unsupported function type"),
        (Function("x", ["INT"], "INT", {"type": "Python", "file": "inline"}, body="x"), "symbol"),
        (Function("x", ["INT"], "INT", {"symbol": "f", "type": "Python", "file": "inline"}), "between \\$\\$"),
        (Function("x", ["INT"], "INT", {"symbol": "f", "type": "StarrocksJar"}), "file"),
        (Function("x", ["INT"], "INT", {"symbol": "f", "type": "Python"}, body="x", global_=True), "GLOBAL"),
    ]
    for fn, msg in bad:
        with pytest.raises(CatalogError, match=msg):
            objects.create_function(log.state, "d", fn, False)


def test_register_functions_in_duckdb() -> None:
    from engine.functions import load_python_udf, register_functions
    from events.plain import to_plain

    con = duckdb.connect()
    fns = [to_plain(_py("f", ["INT"], "inc", "def inc(x):\n    return x + 1\n")),
           to_plain(_py("f", ["STRING"], "bang", "def bang(x):\n    return x + '!'\n")),
           to_plain(Function("j", ["INT"], "INT", {"symbol": "a.B", "type": "StarrocksJar", "file": "u"}))]
    register_functions(con, {"d": fns})
    register_functions(con, {"d": fns})  # cached: registering again is a no-op
    con.execute("SET schema = 'd'")
    assert con.sql("select f(41), f('hi'), f(NULL::INT)").fetchall() == [(42, "hi!", None)]
    with pytest.raises(duckdb.Error, match="Java UDF d.j\\(INT\\) cannot be called"):
        con.sql("select j(1)").fetchall()
    register_functions(con, {"d": fns[:1]})
    with pytest.raises(duckdb.Error):
        con.sql("select f('hi')").fetchall()
    register_functions(con, {"d": []})
    with pytest.raises(duckdb.Error):
        con.sql("select f(1)").fetchall()
    with pytest.raises(CatalogError, match="syntax error"):
        load_python_udf("def f(:\n", "f")
    with pytest.raises(CatalogError, match="symbol 'g'"):
        load_python_udf("def f(x):\n    return x\n", "g")


# ---------------------------------------------------------------- catalogs


def test_catalogs(log: Log, tmp_path: Path) -> None:
    from actors.fe_objects import mask_catalog_properties, seal_catalog_properties

    box = SecretBox(str(tmp_path))
    props = {"type": "Hive", "hive.metastore.uris": "thrift://h:9083", "aws.s3.secret_key": "S3CR3T",
             "aws.s3.access_key": "AK", "password": "pw", "azure.blob.shared_key": "SK"}
    sealed = seal_catalog_properties(box, props)
    for k in ("aws.s3.secret_key", "aws.s3.access_key", "password", "azure.blob.shared_key"):
        assert isinstance(sealed[k], dict) and "S3CR3T" not in str(sealed[k])
    assert box.open(sealed) == props
    assert mask_catalog_properties(sealed)["azure.blob.shared_key"] == "******"
    assert mask_catalog_properties(sealed)["hive.metastore.uris"] == "thrift://h:9083"
    log.commit(objects.create_catalog(log.state, "hc", "c", sealed, False, NOW))
    assert log.state.catalogs["hc"].properties["type"] == "hive"
    with pytest.raises(CatalogError, match="catalog exists"):
        objects.create_catalog(log.state, "hc", "", {"type": "hive"}, False, NOW)
    for name, p, msg in [("x", {"type": "mysql"}, "Unsupported catalog type 'mysql'"), ("x", {}, "Missing"),
                         ("default_catalog", {"type": "hive"}, "internal catalog")]:
        with pytest.raises(CatalogError, match=msg):
            objects.create_catalog(log.state, name, "", p, False, NOW)
    with pytest.raises(CatalogError, match="internal catalog"):
        objects.drop_catalog(log.state, "default_catalog", False)
    log.commit(objects.drop_catalog(log.state, "hc", False))
    with pytest.raises(CatalogError, match="Unknown catalog"):
        objects.drop_catalog(log.state, "hc", False)


# ---------------------------------------------------------------- replay, rendering


def test_replay_gives_the_same_state(log: Log) -> None:
    _async_mv(log)
    log.commit(objects.create_function(log.state, "d", _py("f", ["INT"]), False))
    log.commit(objects.create_view(log.state, "d", "v", "select 1 x", [Column("x", "INT")], [], "", False, False))
    schema = [Column("k", "INT", is_key=True)]
    log.commit(objects.create_sync_mv(log.state, "d", "smv", "t", "select k from t", schema, "DUP_KEYS", False))
    assert digest(fold(log.events)) == digest(log.state)


def test_render_create_statements(log: Log) -> None:
    from sqlfront.handlers_objects import sr_type
    from sqlfront.show_objects import every_text, render_create_mv, render_create_view

    mv = _async_mv(log, interval=7200, start="2024-01-01 00:00:00")
    text = render_create_mv(mv)
    assert 'REFRESH ASYNC START("2024-01-01 00:00:00") EVERY(INTERVAL 2 HOUR)' in text
    assert text.startswith("CREATE MATERIALIZED VIEW `amv` (`k`, `s`)\nDISTRIBUTED BY RANDOM BUCKETS 1")
    assert text.endswith("AS select k, sum(v) s from t group by k;")
    view = load(Table, {"id": 1, "name": "v", "kind": "VIEW", "view_sql": "select 1", "view_columns": ["a"],
                        "columns": [{"name": "a", "type": "INT", "comment": "one"}], "comment": "my view"})
    assert render_create_view(view) == 'CREATE VIEW `v` (`a` COMMENT "one")\nCOMMENT "my view"\nAS select 1;'
    assert every_text(90) == "INTERVAL 90 SECOND" and every_text(86400) == "INTERVAL 1 DAY"
    assert [sr_type(t) for t in ("INTEGER", "HUGEINT", "DECIMAL(10,2)", "VARCHAR", "TIMESTAMP", "INTEGER[]")] == [
        "INT", "LARGEINT", "DECIMAL(10,2)", "VARCHAR(65533)", "DATETIME", "ARRAY<INT>"]
