"""Shared parts of bench_backup.py and bench_restore.py: data sets, the daemon, baselines, memory, the table.

Two data sets (issue 5 item 5, issue 6 item 7), built once per --workdir and reused by both scripts:

  big    one table, DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 64, loaded by --loads INSERT ... SELECT *
         FROM FILES("path" = "file:///.../*.parquet", "format" = "parquet") of generated Parquet files;
         1 GiB of tablet files at --full (128 MiB at the default quick scale of 1/8).
  small  100 tables x 100 buckets = 10,000 tablets of ~20 KiB, 200 MiB at --full (at 1/8: 12 tables,
         1,200 tablets, 25 MiB: the tablets keep their size, their number scales).

Columns are realistic and do not compress to nothing: a shuffled BIGINT key, timestamps, a skewed user id,
low-cardinality strings, amounts, URLs, free text from a 4,000-word vocabulary and a random hex token.

Sizes are of the tablet files on disk (one replica: the files a backup uploads). Replicas of one tablet
are hard links on this machine, so replication_num (default 3, StarRocks' default) changes no byte counts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any directory

from tests.support.daemon import DaemonProcess  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
QUICK_SCALE = 1 / 8
# SHOW BACKUP / SHOW RESTORE polling: every 20 ms at first, then every elapsed/50 (at most 250 ms), so the end
# time is known to within 2% while a long job over 10,000 tablets is not slowed by the polls (SHOW BACKUP
# costs O(tablets) in the frontend actor).
POLL_S = 0.02
POLL_MAX_S = 0.25
MEM_SAMPLE_S = 0.05
MEM_BAR_MIB = 300
DATASET_VERSION = 4  # bump when the generator or what a load records changes (v4: rowsets carry md5): rebuilt


# The product code the daemons of this run were started from (other work may commit during a long run).
START_COMMIT = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()

# ------------------------------------------------------------------------------------------ arguments


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--full", action="store_true", help="the issue's sizes: 1 GiB / 64 tablets and 10,000 tablets")
    p.add_argument("--scale", type=float, default=None,
                   help=f"size factor (default {QUICK_SCALE:g}, --full = 1)")
    p.add_argument("--runs", type=int, default=3, help="timed runs of each measurement; the median is reported")
    p.add_argument("--only", choices=["big", "small"], action="append",
                   help="run one data set only (repeatable); default both")
    p.add_argument("--replication", type=int, default=3,
                   help="replication_num of the tables (default 3; replicas are hard links on one machine)")
    p.add_argument("--loads", type=int, default=4, help="INSERT ... FILES() loads into the big table (rowsets per tablet)")
    p.add_argument("--workdir", type=Path, default=Path(os.environ.get("STARBACKUP_BENCH_DIR", "/tmp/starbackup-bench")),
                   help="where data sets (reused between runs and scripts), repositories and baselines live")
    p.add_argument("--rebuild", action="store_true", help="rebuild the data sets even if cached")
    p.add_argument("--no-restic", action="store_true", help="skip the restic baseline")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = p.parse_args()
    if args.scale is None:
        args.scale = 1.0 if args.full else QUICK_SCALE
    args.sets = args.only or ["big", "small"]
    return args


# ------------------------------------------------------------------------------------------ data sets


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # "big" | "small"
    db: str
    tables: int
    buckets: int
    target_bytes: int
    loads_per_table: int
    replication: int

    @property
    def tablets(self) -> int:
        return self.tables * self.buckets

    def key(self, scale: float) -> str:
        return f"{self.name}-s{scale:g}-r{self.replication}-l{self.loads_per_table}-v{DATASET_VERSION}"


def dataset_spec(name: str, scale: float, replication: int, loads: int) -> DatasetSpec:
    if name == "big":
        return DatasetSpec("big", "bench_big", 1, 64, int(GiB * scale), max(1, loads), replication)
    tables = max(1, round(100 * scale))
    return DatasetSpec("small", "bench_small", tables, 100, int(200 * MiB * tables / 100), 1, replication)


CREATE_TABLE = """CREATE TABLE {name} (
  k BIGINT NOT NULL,
  event_time DATETIME,
  user_id INT,
  country VARCHAR(8),
  device VARCHAR(16),
  amount DOUBLE,
  url VARCHAR(256),
  note VARCHAR(1024),
  token VARCHAR(64)
) DUPLICATE KEY(k)
DISTRIBUTED BY HASH(k) BUCKETS {buckets}
PROPERTIES ("replication_num" = "{replication}")"""

_WORDS: list[str] | None = None
_COUNTRIES = ["US", "CN", "DE", "FR", "GB", "JP", "IN", "BR", "CA", "AU", "KR", "IT", "ES", "MX", "NL", "SE",
              "PL", "TR", "RU", "ID", "AR", "ZA", "NG", "EG", "CH", "BE", "AT", "NO", "DK", "FI", "IE", "PT"]
_DEVICES = ["ios", "android", "web-chrome", "web-firefox", "web-safari", "desktop-win", "desktop-mac", "tv", "api"]


def _vocabulary() -> list[str]:
    global _WORDS
    if _WORDS is None:
        rng = np.random.default_rng(7)
        letters = np.frombuffer(b"etaoinshrdlucmfwypvbgkjqxz", dtype=np.uint8)
        weights = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.2, 2.4, 2.0, 2.0,
                            1.0, 1.5, 2.0, 0.8, 0.2, 0.1, 0.2, 0.1])
        weights /= weights.sum()
        words = set()
        while len(words) < 4000:
            n = int(rng.integers(2, 11))
            words.add(bytes(rng.choice(letters, n, p=weights)).decode())
        _WORDS = sorted(words)
    return _WORDS


def _hex_strings(rng: np.random.Generator, n: int, nbytes: int) -> pa.Array:
    raw = rng.integers(0, 256, size=n * nbytes, dtype=np.uint8)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = np.empty(n * nbytes * 2, dtype=np.uint8)
    chars[0::2] = digits[raw >> 4]
    chars[1::2] = digits[raw & 15]
    offsets = np.arange(0, n * nbytes * 2 + 1, nbytes * 2, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars))


def generate_batch(rng: np.random.Generator, start_key: int, n: int, key_space: int) -> pa.Table:
    """n rows; keys are a random injection into [0, key_space) offset by start_key (unique per load)."""
    words = pa.array(_vocabulary())
    zipf = np.minimum(rng.zipf(1.3, n), 2_000_000).astype(np.int32)
    k = start_key + rng.permutation(n).astype(np.int64) * max(1, key_space // n) + rng.integers(0, max(1, key_space // n), n)
    base = np.datetime64("2024-01-01T00:00:00", "us")
    ts = base + np.sort(rng.integers(0, 365 * 86400 * 1_000_000, n)).astype("timedelta64[us]")
    amount = np.round(rng.lognormal(3.0, 1.2, n), 2)
    url_words = [words.take(pa.array(rng.integers(0, len(words), n))) for _ in range(3)]
    url = pc.binary_join_element_wise(
        "https://shop.example.com/", url_words[0], "/", url_words[1], "/", url_words[2], "?id=",
        pc.cast(pa.array(rng.integers(0, 10_000_000, n)), pa.string()), "")
    n_words = 12
    note_parts = [words.take(pa.array(rng.integers(0, len(words), n))) for _ in range(n_words)]
    note = pc.binary_join_element_wise(*note_parts, " ")
    # Vary the text length: cut each note at a random length of 20..full.
    lengths = pc.utf8_length(note).to_numpy()
    cut = (rng.random(n) * (lengths - 20) + 20).astype(np.int64)
    note = _cut_strings(note, cut)
    return pa.table({
        "k": pa.array(k, pa.int64()),
        "event_time": pa.array(ts, pa.timestamp("us")),
        "user_id": pa.array(zipf),
        "country": pa.array(np.array(_COUNTRIES)[np.minimum(rng.zipf(1.5, n) - 1, len(_COUNTRIES) - 1)]),
        "device": pa.array(np.array(_DEVICES)[rng.integers(0, len(_DEVICES), n)]),
        "amount": pa.array(amount),
        "url": url,
        "note": note,
        "token": _hex_strings(rng, n, 16),
    })


def _cut_strings(arr: pa.Array, lengths: np.ndarray) -> pa.Array:
    """Each string of an ASCII StringArray cut to lengths[i] bytes, without a Python loop."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset: arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    own = np.minimum(lengths, offsets[1:] - offsets[:-1])
    new_offsets = np.zeros(len(arr) + 1, dtype=np.int32)
    np.cumsum(own, out=new_offsets[1:])
    # Gather the kept bytes: index = start of each string + position within it.
    starts = np.repeat(offsets[:-1], own)
    within = np.arange(new_offsets[-1]) - np.repeat(new_offsets[:-1], own)
    chars = data[starts + within]
    return pa.StringArray.from_buffers(len(arr), pa.py_buffer(new_offsets), pa.py_buffer(chars))


def bytes_per_row(buckets: int) -> float:
    """Tablet-file bytes per row as the daemon writes them (zstd Parquet, one row group per routed slice)."""
    rng = np.random.default_rng(1)
    n = 131_072
    t = generate_batch(rng, 0, n, 1 << 40)
    slice_rows = max(1, 65536 // buckets)
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"starbackup-calib-{os.getpid()}.parquet"
    try:
        with pq.ParquetWriter(path, t.schema, compression="zstd") as w:
            for i in range(0, n, slice_rows):
                w.write(t.slice(i, slice_rows))
        return path.stat().st_size / n
    finally:
        path.unlink(missing_ok=True)


def write_inputs(folder: Path, rows: int, seed: int, start_key: int, files: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    per_file = -(-rows // files)
    done = 0
    for f in range(files):
        n = min(per_file, rows - done)
        if n <= 0:
            break
        writer = None
        written = 0
        while written < n:
            chunk = min(262_144, n - written)
            t = generate_batch(rng, start_key + (done + written) * 1024, chunk, chunk * 1024)
            if writer is None:
                writer = pq.ParquetWriter(folder / f"part-{f:04d}.parquet", t.schema, compression="zstd")
            writer.write(t)
            written += chunk
        assert writer is not None
        writer.close()
        done += n


@dataclass
class Dataset:
    spec: DatasetSpec
    bytes: int  # tablet files of one replica
    files: int
    rows: int
    tables: list[str]


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


say = _say


def tablet_files(conn: Any, db: str, tables: list[str]) -> list[Path]:
    """Absolute paths of the tablet files a backup takes: one replica (the lowest backend) of each tablet."""
    out: list[Path] = []
    with conn.cursor() as cur:
        for t in tables:
            cur.execute(f"SHOW TABLET FROM {db}.{t}")
            cols = [d[0] for d in cur.description]
            best: dict[int, tuple[int, str]] = {}
            for row in cur.fetchall():
                r = dict(zip(cols, row, strict=True))
                tid, be = int(r["TabletId"]), int(r["BackendId"])
                if tid not in best or be < best[tid][0]:
                    best[tid] = (be, str(r["PathHash"]))
            for _, d in best.values():
                out.extend(sorted(p for p in Path(d).iterdir() if p.is_file() and not p.name.endswith((".tmp", ".part"))))
    return out


def q(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def q_dicts(conn: Any, sql: str) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(sql)
        cols = [d[0] for d in cur.description or []]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def count_rows(conn: Any, db: str, tables: list[str]) -> int:
    return sum(int(q(conn, f"SELECT count(*) FROM {db}.{t}")[0][0]) for t in tables)


def table_names(spec: DatasetSpec) -> list[str]:
    return ["events"] if spec.name == "big" else [f"t{i:03d}" for i in range(spec.tables)]


def ensure_dataset(daemon: DaemonProcess, conn: Any, spec: DatasetSpec, scale: float, home: Path,
                   rebuild: bool) -> Dataset:
    """Build the data set in the running daemon unless its marker says it is there already (and it is)."""
    marker = home / "dataset.json"
    tables = table_names(spec)
    if marker.exists() and not rebuild:
        info = json.loads(marker.read_text())
        dbs = {r[0] for r in q(conn, "SHOW DATABASES")}
        if spec.db in dbs and set(tables) <= {r[0] for r in q(conn, f"SHOW TABLES FROM {spec.db}")}:
            rows = count_rows(conn, spec.db, tables)
            if rows == info["rows"]:
                files = tablet_files(conn, spec.db, tables)
                _say(f"{spec.name}: reusing data set in {home} ({rows:,} rows, {len(files):,} files)")
                return Dataset(spec, sum(f.stat().st_size for f in files), len(files), rows, tables)
        _say(f"{spec.name}: cached data set is incomplete; rebuilding")
    q(conn, f"DROP DATABASE IF EXISTS {spec.db}")
    q(conn, f"CREATE DATABASE {spec.db}")
    bpr = bytes_per_row(spec.buckets)
    rows_per_table = max(spec.buckets, int(spec.target_bytes / spec.tables / bpr))
    inputs = home / "inputs"
    shutil.rmtree(inputs, ignore_errors=True)
    t0 = time.perf_counter()
    _say(f"{spec.name}: generating {rows_per_table * spec.tables:,} rows (~{bpr:.0f} B/row on disk) for "
         f"{spec.tables} table(s) x {spec.buckets} buckets, replication_num {spec.replication}")
    for ti, t in enumerate(tables):
        q(conn, CREATE_TABLE.format(name=f"{spec.db}.{t}", buckets=spec.buckets, replication=spec.replication))
        per_load = -(-rows_per_table // spec.loads_per_table)
        for li in range(spec.loads_per_table):
            n = min(per_load, rows_per_table - li * per_load)
            folder = inputs / f"{t}-{li}"
            write_inputs(folder, n, seed=1000 * ti + li, start_key=(li << 44) + (ti << 52),
                         files=max(1, n // 1_000_000))
            q(conn, f'INSERT INTO {spec.db}.{t} SELECT * FROM FILES("path" = "file://{folder}/*.parquet", '
                    f'"format" = "parquet")')
            shutil.rmtree(folder)
        if spec.tables > 1 and (ti + 1) % 10 == 0:
            _say(f"{spec.name}: {ti + 1}/{spec.tables} tables loaded")
    rows = count_rows(conn, spec.db, tables)
    files = tablet_files(conn, spec.db, tables)
    size = sum(f.stat().st_size for f in files)
    marker.write_text(json.dumps({"rows": rows, "bytes": size, "files": len(files)}))
    _say(f"{spec.name}: built in {time.perf_counter() - t0:.0f} s: {rows:,} rows, {len(files):,} tablet files, "
         f"{size / MiB:.1f} MiB (one replica)")
    return Dataset(spec, size, len(files), rows, tables)


# ------------------------------------------------------------------------------------------ the daemon


@contextmanager
def daemon_for(home: Path) -> Iterator[DaemonProcess]:
    d = DaemonProcess(home / "daemon", backends=3)
    try:
        d.start(timeout=120)
    except RuntimeError as e:
        # A cached data set written by an older daemon whose log this one cannot replay: start afresh.
        say(f"the daemon does not start on the cached data dir ({str(e).strip().splitlines()[-1][:200]}); "
            f"rebuilding {home.name}")
        shutil.rmtree(home / "daemon", ignore_errors=True)
        (home / "dataset.json").unlink(missing_ok=True)
        d = DaemonProcess(home / "daemon", backends=3)
        d.start(timeout=120)
    try:
        yield d
    finally:
        try:
            d.stop(timeout=120)
        except RuntimeError:
            d.kill()


class MemorySampler:
    """RSS of the daemon (and any children) every 50 ms; peak above the idle RSS taken at start()."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.idle = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def rss(self) -> int:
        total = self.proc.memory_info().rss
        for c in self.proc.children(recursive=True):
            try:
                total += c.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def start(self) -> None:
        self.idle = self.rss()
        self.peak = self.idle
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(MEM_SAMPLE_S):
            self.peak = max(self.peak, self.rss())

    def stop(self) -> int:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self.peak = max(self.peak, self.rss())
        return self.peak - self.idle


def wait_job(conn: Any, show_sql: str, label: str, timeout: float = 3600) -> dict[str, float]:
    """Poll SHOW BACKUP / SHOW RESTORE until the job with `label` is FINISHED (raise if CANCELLED).

    Returns when each state was first seen, in seconds since the call (to within POLL_S): a phase breakdown."""
    t0 = time.perf_counter()
    deadline = time.monotonic() + timeout
    label_col = "SnapshotName" if "BACKUP" in show_sql.upper() else "Label"
    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        rows = [r for r in q_dicts(conn, show_sql) if r[label_col] == label]
        if rows:
            r = rows[-1]
            seen.setdefault(r["State"], time.perf_counter() - t0)
            if r["State"] == "FINISHED":
                return seen
            if r["State"] == "CANCELLED":
                raise RuntimeError(f"job {label} was cancelled: {r['Status']} {r['TaskErrMsg']}")
        time.sleep(min(POLL_MAX_S, max(POLL_S, (time.perf_counter() - t0) / 50)))
    raise TimeoutError(f"job {label} did not finish in {timeout}s")


def phases_text(seen: dict[str, float]) -> str:
    """'PENDING 0.00 > SNAPSHOTING 0.02 > ...': when each state was first seen."""
    return " > ".join(f"{k} {v:.2f}" for k, v in seen.items())


def wait_snapshots_released(data_dir: Path, timeout: float = 120.0) -> None:
    """After a backup: wait until its hard-link snapshots are released (they change the tablet files' ctime,
    which makes tar complain "file changed as we read it")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(any(d.iterdir()) for d in data_dir.glob("be*/snapshots")):
            return
        time.sleep(0.1)
    say(f"warning: snapshots under {data_dir} not released after {timeout:.0f} s")


def drop_caches_note() -> str:
    return "all inputs are in the page cache (warm), for the daemon and the baselines alike"


# ------------------------------------------------------------------------------------------ baselines


def run(cmd: str | list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    """Run a shell pipeline; return its wall time. Raise with its output if it fails."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, shell=isinstance(cmd, str), env={**os.environ, **(env or {})}, cwd=cwd,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, executable="/bin/bash" if isinstance(cmd, str) else None)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd!r} failed ({p.returncode}): {p.stdout.decode(errors='replace')[-2000:]}")
    return dt


def have_restic() -> bool:
    return shutil.which("restic") is not None


RESTIC_ENV = {"RESTIC_PASSWORD": "starbackup-bench", "RESTIC_CACHE_DIR": "/nonexistent"}


def write_file_list(files: list[Path], path: Path, relative_to: Path | None = None) -> Path:
    with open(path, "w") as fh:
        for f in files:
            fh.write(f"{f.relative_to(relative_to) if relative_to else f}\n")
    return path


def fsync_tree_cmd(folder: Path) -> str:
    """Make everything written under folder durable the way the daemon does (storage/fsutil.py syncfs:
    one syncfs(2) of the file system rather than an fsync per file): GNU `sync -f`."""
    return f"sync -f {folder}"


# ------------------------------------------------------------------------------------------ results


@dataclass
class Measure:
    name: str
    times: list[float] = field(default_factory=list)
    mem: list[int] = field(default_factory=list)
    skipped: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def mem_median(self) -> int:
        return int(statistics.median(self.mem)) if self.mem else 0

    @property
    def mem_max(self) -> int:
        return max(self.mem) if self.mem else 0


@dataclass
class Bar:
    text: str
    value: float
    limit: float
    ok: bool


def ratio_bar(text: str, daemon: Measure, base: Measure, max_ratio: float) -> Bar | None:
    if base.skipped or not base.times:
        return None
    r = daemon.median / base.median
    return Bar(text, r, max_ratio, r <= max_ratio)


def bars_for(name: str, daemon: Measure, ratio_specs: list[tuple[str, Measure, float]]) -> list[Bar]:
    """The issue's bars for one data set: each (text, baseline, max ratio) that was measured, then memory."""
    bars = [b for text, base, limit in ratio_specs if (b := ratio_bar(text, daemon, base, limit))]
    peak = daemon.mem_max / MiB
    bars.append(Bar(f"{name}: peak memory above idle (max of runs)", peak, MEM_BAR_MIB, peak < MEM_BAR_MIB))
    return bars


def report(title: str, scale: float, results: list[tuple[Dataset, dict[str, Measure], list[Bar]]],
           json_path: Path | None) -> bool:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=140)
    all_ok = True
    out: list[dict[str, Any]] = []
    for ds, measures, bars in results:
        daemon = measures["daemon"]
        t = Table(title=f"{title}: {ds.spec.name} data set — {ds.spec.tablets:,} tablets, {ds.files:,} files, "
                        f"{ds.bytes / MiB:.1f} MiB, replication_num {ds.spec.replication}, scale {scale:g}, "
                        f"median of {len(daemon.times)}")
        t.add_column("measurement")
        t.add_column("median s", justify="right")
        t.add_column("runs s", justify="right")
        t.add_column("MB/s", justify="right")
        t.add_column("daemon / this", justify="right")
        t.add_column("peak MiB above idle (median / max)", justify="right")
        for m in measures.values():
            if m.skipped:
                t.add_row(m.name, "-", m.skipped, "-", "-", "-")
                continue
            mbs = ds.bytes / 1e6 / m.median
            ratio = "" if m is daemon else f"{daemon.median / m.median:.2f}x"
            mem = f"{m.mem_median / MiB:.0f} / {m.mem_max / MiB:.0f}" if m.mem else ""
            t.add_row(m.name, f"{m.median:.2f}", " ".join(f"{x:.2f}" for x in m.times), f"{mbs:.0f}", ratio, mem)
        console.print(t)
        b = Table(title=f"bars ({ds.spec.name})")
        b.add_column("bar")
        b.add_column("measured", justify="right")
        b.add_column("limit", justify="right")
        b.add_column("result")
        for bar in bars:
            all_ok &= bar.ok
            unit = "MiB" if "memory" in bar.text else "x"
            b.add_row(bar.text, f"{bar.value:.2f}{unit}", f"<= {bar.limit:.3g}{unit}",
                      "[green]PASS[/green]" if bar.ok else "[red]FAIL[/red]")
        console.print(b)
        out.append({
            "dataset": ds.spec.name, "tablets": ds.spec.tablets, "files": ds.files, "bytes": ds.bytes, "rows": ds.rows,
            "replication": ds.spec.replication, "scale": scale,
            "measures": {k: {"times": m.times, "median": m.median if m.times else None, "mem": m.mem,
                             "skipped": m.skipped} for k, m in measures.items()},
            "bars": [{"text": x.text, "value": x.value, "limit": x.limit, "ok": x.ok} for x in bars],
        })
    head = START_COMMIT
    console.print(f"measured at commit {head or '?'} (HEAD when the script started) on {os.cpu_count()} cores")
    if scale != 1:
        console.print(f"[yellow]scale {scale:g}: the issue's bars are defined at --full; these are indicative[/yellow]")
    console.print(drop_caches_note())
    if json_path:
        json_path.write_text(json.dumps({"commit": head, "results": out}, indent=2))
    return all_ok


def dataset_home(workdir: Path, spec: DatasetSpec, scale: float) -> Path:
    home = workdir / spec.key(scale)
    home.mkdir(parents=True, exist_ok=True)
    return home


@dataclass
class BenchWork:
    """What both benchmarks set up before measuring: the tablet files, their lists, an empty repository."""

    files: list[Path]
    data_dir: Path
    work: Path
    file_list: Path
    abs_list: Path
    repo_dir: Path


def prepare_work(conn: Any, daemon: Any, spec: Any, tables: Any, work: Path) -> BenchWork:
    files = tablet_files(conn, spec.db, tables)
    data_dir = daemon.data_dir
    work = fresh_dir(work)
    file_list = write_file_list(files, work / "files.txt", relative_to=data_dir)
    abs_list = write_file_list(files, work / "files-abs.txt")
    repo_dir = fresh_dir(work / "repo")
    try:
        q(conn, "DROP REPOSITORY bench_repo")
    except Exception:  # noqa: BLE001  (not there yet)
        pass
    q(conn, f'CREATE REPOSITORY bench_repo WITH BROKER ON LOCATION "file://{repo_dir}"')
    return BenchWork(files, data_dir, work, file_list, abs_list, repo_dir)


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
