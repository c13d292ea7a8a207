"""A whole cluster (frontend + backend workers, real event log, real tablet files, a file:// repository)
driven by the deterministic simulator, with seeded faults and crashes (design §6).

Faults come through decorators of the real interfaces (tests/support/faults.py): the backends get their
repository storage from a `FaultyStorageFactory`, the runtime's `tell` is wrapped by a `FaultyTransport`.
Crashes are planned (`Crash`): at a step, when a job state is entered (or N deliveries later), or right
after a chosen storage call. A crash drops every actor and pending delivery (as kill -9 would), then boots
again through the real recovery path: the frontend folds the log, `start_jobs` re-derives the effects of
unfinished jobs.

Invariants: after every delivery (no restore commits before its downloads; no running job without progress
for `stuck_s` virtual seconds), before every crash (log chain, fresh fold == live state, no double commit),
and at the end (`check_end_invariants`: all of those, no job running, every FINISHED backup restores to its
source's data at the snapshot, every CANCELLED restore left its targets as they were, every FINISHED
restore holds its backup's data).
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from actors.backend import BackendWorker
from actors.frontend import Frontend
from actors.sim import SimRuntime, SimulatedCrash
from engine import load
from engine.query import new_duckdb
from events.catalog import PartitionSpec, TableSpec
from events.commands import (
    Command,
    CreateDatabase,
    CreateRepository,
    CreateTable,
    StartJobs,
    SubmitBackup,
    SubmitRestore,
)
from events.fold import digest, fold
from events.job_common import DONE_STATES
from events.model import Column
from events.plain import to_plain
from events.queries import Backends, Config, RepositoryForJob, TableLayout
from events.state import ClusterState
from tests.support.faults import (
    FaultyStorageFactory,
    FaultyTransport,
    StorageFaults,
    TransferLog,
    TransportFaults,
)

BACKUP_STATES = ("SNAPSHOTING", "UPLOAD_SNAPSHOT", "UPLOADING", "SAVE_META", "UPLOAD_INFO")
RESTORE_STATES = ("SNAPSHOTING", "DOWNLOAD", "DOWNLOADING", "COMMIT")
STUCK_S = 3600.0  # virtual seconds a running job may go without progress


class InvariantError(AssertionError):
    pass


@dataclass
class Crash:
    """One planned kill -9. Exactly one trigger: `step` (the n-th delivery of the run), `state` (a job of
    `job_type` has been in `state` for `after` deliveries; 0 = right after the delivery that entered it),
    or `storage` (right after the first storage call whose "<op> <key>" matches the regex)."""

    step: int | None = None
    job_type: str | None = None
    state: str | None = None
    after: int = 0
    storage: str | None = None
    fired: str | None = None  # why it fired, once it has

    def __str__(self) -> str:
        if self.step is not None:
            return f"at step {self.step}"
        if self.state is not None:
            return f"in {self.job_type} {self.state} +{self.after}"
        return f"after storage {self.storage!r}"


@dataclass
class JobCheck:
    """What the end invariants need about a job submitted through the harness."""

    kind: str
    db: str
    label: str = ""
    source: dict[str, str] | None = None  # BACKUP: table -> digest at submit (the snapshot's versions)
    target_before: dict[str, str] | None = None  # RESTORE: the target database before (None: absent)
    backup_job: int | None = None  # RESTORE: the backup it restores
    tables: list[str] = field(default_factory=list)


class SimCluster:
    def __init__(self, seed: int, root: Path, backends: int = 3, fault_rate: float = 0.0,
                 storage_faults: StorageFaults | None = None, transport_faults: TransportFaults | None = None,
                 crashes: list[Crash] | None = None, stuck_s: float = STUCK_S) -> None:
        self.seed = seed
        self.root = root
        self.data = root / "data"
        self.repo_dir = root / "repo"
        self.repo_dir.mkdir(parents=True, exist_ok=True)
        self.backends = backends
        self.storage = FaultyStorageFactory(storage_faults or StorageFaults(transient=fault_rate),
                                            random.Random(seed * 7919 + 17), sleep=self._sleep,
                                            transfers=TransferLog(), crash_after=self._crash_after_storage)
        self.transport_faults = transport_faults or TransportFaults()
        self.transport_rng = random.Random(seed * 104729 + 3)
        self.transports: list[FaultyTransport] = []
        self.crashes: list[Crash] = list(crashes or [])
        self.crash_log: list[str] = []
        self.stuck_s = stuck_s
        self.boots = 0
        self.steps = 0
        self.clock_ns: int | None = None
        self.sim: SimRuntime
        self.fe: Frontend
        self.txn = 0
        self._duckdb: Any = None
        self.checks: dict[int, JobCheck] = {}
        self.states_seen: set[tuple[str, str]] = set()  # (type, state) seen at a delivery boundary
        self._in_state: dict[int, tuple[str, int]] = {}  # job -> (state, deliveries since entered)
        self._progress: dict[int, tuple[Any, int]] = {}  # job -> (signature, virtual time it last changed)
        self.boot()

    # ------------------------------------------------------------ life cycle

    def boot(self) -> None:
        self.sim = SimRuntime(self.seed * 1000 + self.boots)
        if self.clock_ns is not None:
            self.sim.clock.now = self.clock_ns
        self.boots += 1
        transport = FaultyTransport(self.sim.tell, self.transport_rng, self.transport_faults)
        self.sim.tell = transport  # type: ignore[method-assign]
        self.transports.append(transport)
        self.fe = Frontend(self.data, self.backends)
        self.sim.spawn("fe", self.fe)
        config = self.ask(Config())
        for b in self.ask(Backends()):
            self.sim.spawn(f"be{b['id']}", BackendWorker(b["id"], self.data, config, storage_factory=self.storage))
        self.ask(StartJobs())
        self.sim.on_step = lambda _sim: self._observe()
        self.sim.crash_points = [self._crash_point]
        self._in_state.clear()

    def crash(self, reason: str = "") -> None:
        """kill -9: nothing in flight survives; the log and files on disk do."""
        self.check_full_invariants()
        self.crash_log.append(f"step {self.steps}: {reason}")
        self.clock_ns = self.sim.clock.now
        self.sim.crash()
        if self.fe.log is not None:
            self.fe.log.close()  # the process would be gone; SQLite's WAL has every committed event
            self.fe.log = None
        self.boot()

    def close(self) -> None:
        self.sim.stop_all()
        if self._duckdb is not None:
            self._duckdb.close()
            self._duckdb = None

    def _sleep(self, seconds: float) -> None:
        self.sim.sleep(seconds)

    @property
    def fault_rate(self) -> float:
        return self.storage.faults.transient

    @fault_rate.setter
    def fault_rate(self, rate: float) -> None:
        self.storage.set_faults(StorageFaults(transient=rate))

    @property
    def faults_injected(self) -> int:
        return sum(self.storage.log.counts.values()) + sum(sum(t.log.counts.values()) for t in self.transports)

    def fault_counts(self) -> dict[str, int]:
        counts = dict(self.storage.log.counts)
        for t in self.transports:
            for k, n in t.log.counts.items():
                counts[k] = counts.get(k, 0) + n
        return counts

    def repeated_uploads(self) -> dict[str, int]:
        """Remote keys put more than once (a resumed job must not re-send what it had recorded)."""
        counts: dict[str, int] = {}
        assert self.storage.transfers is not None
        for line in self.storage.transfers.lines:
            if line.startswith("upload "):
                counts[line] = counts.get(line, 0) + 1
        return {k: n for k, n in counts.items() if n > 1}

    def faults_off(self) -> None:
        """No more faults or crashes (the end checks restore with a healthy storage and network)."""
        self.storage.set_faults(StorageFaults())
        self.transport_faults.lose = self.transport_faults.duplicate = 0.0
        for c in self.crashes:
            c.fired = c.fired or "cancelled"

    # ------------------------------------------------------------ crash points

    def _pending(self) -> list[Crash]:
        return [c for c in self.crashes if c.fired is None]

    def _crash_point(self, _sim: SimRuntime) -> str | None:
        for c in self._pending():
            if c.step is not None and self.steps >= c.step:
                c.fired = f"step {self.steps}"
                return f"planned crash at step {c.step}"
            if c.state is not None:
                for job_id, (state, n) in self._in_state.items():
                    job = self.state().jobs.get(job_id)
                    if job and job["type"] == c.job_type and state == c.state and n >= c.after:
                        c.fired = f"job {job_id} {state} +{n}"
                        return f"planned crash in {c.job_type} {state} +{c.after} (job {job_id})"
        return None

    def _crash_after_storage(self, op: str, key: str) -> bool:
        for c in self._pending():
            if c.storage is not None and re.search(c.storage, f"{op} {key}"):
                c.fired = f"{op} {key}"
                return True
        return False

    def _observe(self, count: bool = True) -> None:
        self.steps += count
        now = self.sim.clock.now
        for job in self.state().jobs.values():
            jid = job["id"]
            st = job["state"]
            self.states_seen.add((job["type"], st))
            prev = self._in_state.get(jid)
            self._in_state[jid] = (st, 0) if prev is None or prev[0] != st else (st, prev[1] + 1)
            if _job_done(job):
                self._progress.pop(jid, None)
                continue
            sig = _progress_signature(job)
            last = self._progress.get(jid)
            if last is None or last[0] != sig:
                self._progress[jid] = (sig, now)
            elif now - last[1] > self.stuck_s * 1e9:
                what = st if st not in DONE_STATES else f"{st} (not cleaned up)"
                raise InvariantError(f"job {jid} ({job['type']} {job['label']}) stuck in {what} without progress for "
                                     f"{(now - last[1]) / 1e9:.0f} s (seed {self.seed}); errors: {job.get('task_errors')}")
        self.check_step_invariants()

    # ------------------------------------------------------------ talking to the cluster

    def ask(self, message: Any) -> Any:
        return self.sim.ask("fe", message)

    def cmd(self, command: Command) -> Any:
        """A statement's command: a delivery too, so the observer and the crash points see its outcome (a
        submitted restore is in SNAPSHOTING until its next delivery)."""
        reply = self.ask(command)
        self._observe(count=False)
        reason = self._crash_point(self.sim)
        if reason is not None:
            self.crash(reason)
        return reply

    def state(self) -> ClusterState:
        return self.fe.state

    def make_sample(self, db: str = "sr_hub", rows: int = 60, buckets: tuple[int, int] = (3, 4)) -> None:
        self.cmd(CreateDatabase(name=db))
        cols = [Column("k", "INT", is_key=True), Column("dt", "DATE"), Column("v", "VARCHAR(32)")]
        spec = TableSpec(
            name="sr_member", columns=cols, key_columns=["k"], partition_type="RANGE", partition_columns=["dt"],
            partitions=[PartitionSpec("p1", ["2024-01-01"], ["2024-02-01"]),
                        PartitionSpec("p2", ["2024-02-01"], ["2024-03-01"]),
                        PartitionSpec("p3", ["2024-03-01"], ["2024-04-01"])],
            distribution="HASH", distribution_columns=["k"], buckets=buckets[0],
        )
        self.cmd(CreateTable(db=db, spec=to_plain(spec)))
        plain = TableSpec(name="sr_pmc", columns=[Column("id", "BIGINT", is_key=True), Column("name", "VARCHAR(16)")],
                          key_columns=["id"], distribution="HASH", distribution_columns=["id"], buckets=buckets[1])
        self.cmd(CreateTable(db=db, spec=to_plain(plain)))
        for batch in range(2):
            self.load_batch(db, batch * rows, rows, f"v{batch}")

    def load_batch(self, db: str, first: int, rows: int, tag: str) -> None:
        values = ", ".join(f"({first + i}, DATE '2024-0{1 + i % 3}-{1 + i % 27:02d}', '{tag}_{i}')" for i in range(rows))
        self.insert(db, "sr_member", f"SELECT * FROM (VALUES {values})", 3)
        values = ", ".join(f"({first + i}, 'n{tag}{i}')" for i in range(rows))
        self.insert(db, "sr_pmc", f"SELECT * FROM (VALUES {values})", 2)

    def insert(self, db: str, table: str, source_sql: str, width: int) -> int:
        self.txn += 1
        if self._duckdb is None:
            self._duckdb = new_duckdb()  # one per cluster: opening DuckDB costs more than a small load
        return load.load(self._duckdb, self.ask, db, table, source_sql, width, None,
                         txn=f"sim{self.seed}_{self.boots}_{self.txn}")

    def create_repository(self, name: str = "repo") -> None:
        self.cmd(CreateRepository(name=name, location=f"file://{self.repo_dir}", read_only=False, broker=None,
                                  properties={}, create_time_ns=self.sim.clock.now,
                                  root=f"__starrocks_repository_{name}"))

    def submit_backup(self, label: str, db: str = "sr_hub", timeout_s: int | None = None) -> int:
        """BACKUP DATABASE db (every table), remembering each table's data at the snapshot."""
        job_id: int = self.cmd(SubmitBackup(db=db, label=label, repo="repo", objects=[], external_catalogs=None,
                                            timeout_s=timeout_s, type="FULL"))
        # The job recorded the rowsets visible now; nothing ran since: this is the data at the snapshot.
        self.checks[job_id] = JobCheck("BACKUP", db, label, source=self.db_digests(db))
        return job_id

    def submit_restore(self, backup_job: int, **extra: Any) -> int:
        check = self.checks[backup_job]
        target = extra.get("database_alias") or check.db
        try:
            args = self.restore_args(check.label, timestamp=self.state().jobs[backup_job]["timestamp"], **extra)
        except Exception as e:  # the snapshot's info or meta file is unusable
            raise InvariantError(f"FINISHED backup {backup_job} ({check.label}) cannot be restored: {e} "
                                 f"(seed {self.seed})") from None
        before = self.db_digests(target) if target in self.state().databases else None
        job_id: int = self.cmd(SubmitRestore(**args))
        self.checks[job_id] = JobCheck("RESTORE", target, check.label, target_before=before, backup_job=backup_job)
        return job_id

    # ------------------------------------------------------------ running

    def step(self) -> bool:
        """One delivery; a crash point that fires (here or inside a task) becomes a crash and a reboot."""
        try:
            return self.sim.step()
        except SimulatedCrash as crash:
            self.crash(str(crash))
            return True

    def run_until_jobs_done(self, crash_at: int | None = None, max_steps: int = 400_000) -> None:
        if crash_at is not None:
            self.crashes.append(Crash(step=self.steps + crash_at))
        steps = 0
        while steps < max_steps:
            if self.jobs_done():
                return
            if not self.step():
                raise InvariantError(f"simulation idle with unfinished jobs (seed {self.seed}): {self.job_states()}")
            steps += 1
        raise InvariantError(f"jobs did not finish in {max_steps} steps (seed {self.seed}): {self.job_states()}")

    def jobs_done(self) -> bool:
        return all(_job_done(j) for j in self.state().jobs.values())

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

    def check_end_invariants(self) -> list[str]:
        """Everything a run must leave true; raises InvariantError naming the first broken promise. Returns
        one line per job checked (for reports)."""
        self.check_full_invariants()
        running = {j: s for j, s in self.job_states().items() if s not in DONE_STATES}
        if running:
            raise InvariantError(f"jobs still running at the end (seed {self.seed}): {running}")
        out: list[str] = []
        for job_id, check in sorted(self.checks.items()):
            job = self.state().jobs[job_id]
            if check.kind == "RESTORE" and job["state"] == "CANCELLED":
                now = self.db_digests(check.db) if check.db in self.state().databases else None
                if now != check.target_before:
                    raise InvariantError(f"cancelled restore {job_id} ({job['status']}) changed {check.db}: "
                                         f"{_diff(check.target_before, now)} (seed {self.seed})")
                out.append(f"restore {job_id} CANCELLED, {check.db} unchanged")
            elif check.kind == "RESTORE" and job["state"] == "FINISHED":
                source = self.checks[check.backup_job or 0].source or {}
                now = self.db_digests(check.db)
                bad = [t for t, d in source.items() if now.get(t) != d]
                if bad:
                    raise InvariantError(f"restore {job_id} FINISHED but {bad} differ from backup "
                                         f"{check.backup_job}'s source (seed {self.seed})")
                out.append(f"restore {job_id} FINISHED, {check.db} == source")
        self.faults_off()
        for job_id, check in sorted(self.checks.items()):
            job = self.state().jobs[job_id]
            if check.kind == "BACKUP" and job["state"] == "FINISHED":
                out.append(self.check_backup_restores(job_id))
            elif check.kind == "BACKUP":
                out.append(f"backup {job_id} CANCELLED")
        self.check_full_invariants()
        return out

    def check_backup_restores(self, job_id: int) -> str:
        """A FINISHED backup restores (into a fresh database) to the data its source had at the snapshot."""
        check = self.checks[job_id]
        alias = f"chk_{job_id}"
        rid = self.submit_restore(job_id, database_alias=alias)
        self.run_until_jobs_done()
        job = self.state().jobs[rid]
        if job["state"] != "FINISHED":
            raise InvariantError(f"FINISHED backup {job_id} ({check.label}) does not restore: {job['state']} "
                                 f"{job['status']} (seed {self.seed})")
        now = self.db_digests(alias)
        bad = [t for t, d in (check.source or {}).items() if now.get(t) != d]
        if bad:
            raise InvariantError(f"FINISHED backup {job_id} ({check.label}) restores {bad} with other data than "
                                 f"at the snapshot (seed {self.seed})")
        del self.checks[rid]
        return f"backup {job_id} FINISHED, restores == source"

    # ------------------------------------------------------------ data

    def db_digests(self, db: str) -> dict[str, str]:
        d = self.state().databases[db]
        return {name: self.table_digest(db, name) for name, t in sorted(d.tables.items()) if t.kind == "OLAP"}

    def table_digest(self, db: str, table: str) -> str:
        layout = self.ask(TableLayout(db=db, table=table))
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
        return str(jobs[-1]["timestamp"])

    def restore_args(self, label: str, timestamp: str | None = None, **extra: Any) -> dict[str, Any]:
        """What the SQL session would send: the statement plus the verified info and meta files (read with
        the real storage: the session does not go through the backends' faulty one)."""
        from sqlfront.handlers_backup import read_snapshot_files
        from storage.repo_access import open_repository

        repo = self.ask(RepositoryForJob(name="repo"))
        storage = open_repository(repo, self.data)
        ts = timestamp or self.latest_timestamp(label)
        info, meta = read_snapshot_files(storage, repo["root"], label, ts)
        args = {"label": label, "repo": "repo", "timestamp": ts, "root": repo["root"], "database": None,
                "database_alias": None, "snapshot_db_prefix": None, "objects": [], "external_catalogs": None,
                "replication_num": None, "timeout_s": None, "allow_load": False, "info": info, "meta": meta}
        args.update(extra)
        return args


def _job_done(j: dict[str, Any]) -> bool:
    """Ended, and cleaned up: a backup's snapshots released, a cancelled restore's new tablets dropped."""
    return bool(j["state"] in DONE_STATES and (j.get("released") or j.get("cleaned") or j["type"] == "RESTORE"
                                               and j["state"] == "FINISHED"))


def _progress_signature(job: dict[str, Any]) -> tuple[Any, ...]:
    """What changes when a job makes progress (errors and attempts do not count)."""
    return (job["state"], job.get("snapped"), job.get("uploaded"), job.get("downloaded"),
            tuple(job.get("released_bes", ())), job.get("meta_file"), job.get("info_file"), job.get("cleaned"))


def _diff(before: dict[str, str] | None, after: dict[str, str] | None) -> str:
    if before is None or after is None:
        return f"database {'created' if before is None else 'dropped'}"
    changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
    return f"tables {changed} changed"
