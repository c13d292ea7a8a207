"""A whole cluster (frontend + backend workers, real event log, real tablet files, a file:// repository)
driven by the deterministic simulator, with seeded faults and crashes (design §6).

Crash = drop every actor and pending delivery (as kill -9 would), then boot again through the real
recovery path: the frontend folds the log, `start_jobs` re-derives the effects of unfinished jobs.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import actors.fe_commands  # noqa: F401  (registers commands)
import actors.fe_jobs  # noqa: F401
import actors.fe_repo  # noqa: F401
from actors.backend import BackendWorker
from actors.frontend import Frontend
from actors.messages import Cmd, Read
from actors.sim import SimRuntime
from events.catalog import PartitionSpec, TableSpec
from events.job_common import DONE_STATES
from events.model import Column
from events.plain import to_plain
from events.state import ClusterState, digest, fold
from sqlfront import load
from sqlfront.query import new_duckdb
from storage.repo import TransientStorageError


class InvariantError(AssertionError):
    pass


class SimCluster:
    def __init__(self, seed: int, root: Path, backends: int = 3, fault_rate: float = 0.0) -> None:
        self.seed = seed
        self.root = root
        self.data = root / "data"
        self.repo_dir = root / "repo"
        self.repo_dir.mkdir(parents=True, exist_ok=True)
        self.backends = backends
        self.fault_rate = fault_rate
        self.faults_injected = 0
        self.rng = random.Random(seed * 7919 + 17)
        self.boots = 0
        self.clock_ns: int | None = None
        self.sim: SimRuntime
        self.fe: Frontend
        self.txn = 0
        self.boot()

    # ------------------------------------------------------------ life cycle

    def boot(self) -> None:
        self.sim = SimRuntime(self.seed * 1000 + self.boots)
        if self.clock_ns is not None:
            self.sim.clock.now = self.clock_ns
        self.boots += 1
        self.fe = Frontend(self.data, self.backends)
        self.sim.spawn("fe", self.fe)
        config = self.ask(Read("config"))
        for b in self.ask(Read("backends")):
            self.sim.spawn(f"be{b['id']}", BackendWorker(b["id"], self.data, config, faults=self._fault))
        self.ask(Read("start_jobs"))
        self.sim.on_step = lambda _sim: self.check_step_invariants()

    def crash(self) -> None:
        """kill -9: nothing in flight survives; the log and files on disk do."""
        self.clock_ns = self.sim.clock.now
        self.sim.crash()
        if self.fe.log is not None:
            self.fe.log.close()  # the process would be gone; SQLite's WAL has every committed event
            self.fe.log = None
        self.boot()

    def close(self) -> None:
        self.sim.stop_all()

    def _fault(self, site: str, item: dict[str, Any]) -> None:
        if site in ("upload", "download", "meta", "info") and self.rng.random() < self.fault_rate:
            self.faults_injected += 1
            raise TransientStorageError(f"injected fault at {site} of {item.get('key')}")

    # ------------------------------------------------------------ talking to the cluster

    def ask(self, message: Any) -> Any:
        return self.sim.ask("fe", message)

    def cmd(self, command_name: str, /, **args: Any) -> Any:
        return self.ask(Cmd(command_name, args))

    def state(self) -> ClusterState:
        return self.fe.state

    def make_sample(self, db: str = "sr_hub", rows: int = 60) -> None:
        self.cmd("create_database", name=db)
        cols = [Column("k", "INT", is_key=True), Column("dt", "DATE"), Column("v", "VARCHAR(32)")]
        spec = TableSpec(
            name="sr_member", columns=cols, key_columns=["k"], partition_type="RANGE", partition_columns=["dt"],
            partitions=[PartitionSpec("p1", ["2024-01-01"], ["2024-02-01"]),
                        PartitionSpec("p2", ["2024-02-01"], ["2024-03-01"]),
                        PartitionSpec("p3", ["2024-03-01"], ["2024-04-01"])],
            distribution="HASH", distribution_columns=["k"], buckets=3,
        )
        self.cmd("create_table", db=db, spec=to_plain(spec))
        plain = TableSpec(name="sr_pmc", columns=[Column("id", "BIGINT", is_key=True), Column("name", "VARCHAR(16)")],
                          key_columns=["id"], distribution="HASH", distribution_columns=["id"], buckets=4)
        self.cmd("create_table", db=db, spec=to_plain(plain))
        for batch in range(2):
            values = ", ".join(
                f"({batch * rows + i}, DATE '2024-0{1 + i % 3}-{1 + i % 27:02d}', 'v{batch}_{i}')" for i in range(rows)
            )
            self.insert(db, "sr_member", f"SELECT * FROM (VALUES {values})", 3)
            values = ", ".join(f"({batch * rows + i}, 'n{i}')" for i in range(rows))
            self.insert(db, "sr_pmc", f"SELECT * FROM (VALUES {values})", 2)

    def insert(self, db: str, table: str, source_sql: str, width: int) -> int:
        self.txn += 1
        con = new_duckdb()
        return load.load(con, self.ask, Read, Cmd, db, table, source_sql, width, None,
                         txn=f"sim{self.seed}_{self.boots}_{self.txn}")

    def create_repository(self, name: str = "repo") -> None:
        self.cmd("create_repository", name=name, location=f"file://{self.repo_dir}", read_only=False,
                 broker=None, properties={}, create_time_ns=self.sim.clock.now, root=f"__starrocks_repository_{name}")

    # ------------------------------------------------------------ running

    def run_until_jobs_done(self, crash_at: int | None = None, max_steps: int = 200_000) -> None:
        steps = 0
        crashed = crash_at is None
        while steps < max_steps:
            if self.jobs_done():
                return
            if not crashed and steps >= crash_at:
                self.check_full_invariants()
                self.crash()
                crashed = True
                continue
            if not self.sim.step():
                raise InvariantError(f"simulation idle with unfinished jobs (seed {self.seed})")
            steps += 1
        raise InvariantError(f"jobs did not finish in {max_steps} steps (seed {self.seed}): {self.job_states()}")

    def jobs_done(self) -> bool:
        return all(j["state"] in DONE_STATES and (j.get("released") or j.get("cleaned") or j["type"] == "RESTORE"
                                                  and j["state"] == "FINISHED")
                   for j in self.state().jobs.values())

    def job_states(self) -> dict[int, str]:
        return {j["id"]: j["state"] for j in self.state().jobs.values()}

    # ------------------------------------------------------------ invariants (design §6)

    def check_step_invariants(self) -> None:
        for job in self.state().jobs.values():
            if job["type"] == "RESTORE" and job["state"] in ("COMMITTING", "FINISHED"):
                missing = [(t, f) for t, v in job["tablets"].items() for f in v["files"] if f not in v["down"]]
                if missing:
                    raise InvariantError(f"restore {job['id']} committed before all downloads: {missing[:3]}")

    def check_full_invariants(self) -> None:
        log = self.fe.log
        assert log is not None
        report = log.verify()
        if not report.ok:
            raise InvariantError(f"event log chain broken: {report}")
        folded = fold(log.read())
        if digest(folded) != digest(self.state()):
            raise InvariantError("read model differs from a fresh fold of the log")
        commits: dict[int, int] = {}
        for ev in log.read():
            if ev.type == "restore.committed":
                commits[ev.data["job_id"]] = commits.get(ev.data["job_id"], 0) + 1
        twice = {j: n for j, n in commits.items() if n > 1}
        if twice:
            raise InvariantError(f"restore committed twice: {twice}")

    # ------------------------------------------------------------ data

    def table_digest(self, db: str, table: str) -> str:
        layout = self.ask(Read("table", {"db": db, "table": table}))
        base = str(layout["table"]["base_index_id"])
        tables = []
        for p in layout["partitions"]:
            for t in p["tablets"].get(base, []):
                for path, _version in t["files"]:
                    tables.append(pq.read_table(path))
        if not tables:
            return hashlib.sha256(b"").hexdigest()
        rows = sorted(map(repr, pa.concat_tables(tables).to_pylist()))
        return hashlib.sha256("\n".join(rows).encode()).hexdigest()

    def latest_timestamp(self, label: str) -> str:
        jobs = [j for j in self.state().jobs.values() if j["type"] == "BACKUP" and j["label"] == label]
        return jobs[-1]["timestamp"]

    def restore_args(self, label: str, **extra: Any) -> dict[str, Any]:
        """What the SQL session would send: the statement plus the verified info and meta files."""
        from sqlfront.handlers_backup import read_snapshot_files
        from storage.repo_access import open_repository

        repo = self.ask(Read("repository_for_job", {"name": "repo"}))
        storage = open_repository(repo, self.data)
        ts = self.latest_timestamp(label)
        info, meta = read_snapshot_files(storage, repo["root"], label, ts)
        args = {"label": label, "repo": "repo", "timestamp": ts, "root": repo["root"], "database": None,
                "database_alias": None, "snapshot_db_prefix": None, "objects": [], "external_catalogs": None,
                "replication_num": None, "timeout_s": None, "allow_load": False, "info": info, "meta": meta}
        args.update(extra)
        return args
