"""RESTORE speed (issue 6 item 7): the daemon vs `zstd -d | tar x` and `restic restore` of the same files.

    .venv/bin/python bench/bench_restore.py            # quick: 1/8 of the sizes, median of 3 runs
    .venv/bin/python bench/bench_restore.py --full     # 1 GiB / 64 tablets and 10,000 tablets / 200 MiB

Untimed set-up: the data set (bench/common.py), one BACKUP to a file:// repository, a tar.zst archive and
a restic repository of the same tablet files. Then for each run, in the same order:
  daemon   DROP DATABASE db (and wait until its tablet files are garbage-collected, then sync), then
           RESTORE SNAPSHOT db.s FROM repo PROPERTIES ("backup_timestamp" = ..., "replication_num" = ...)
           through the MySQL protocol, polling SHOW RESTORE every 20 ms (later every elapsed/50, at most
           250 ms) until FINISHED. Every downloaded file is md5-verified, and made durable (syncfs)
           before it is reported, so before FINISHED. Row counts are checked after each run. Peak RSS as in bench_backup.py.
  tar      zstd -d -c archive | tar xf - -C dest && sync -f dest     (syncfs, as the daemon does)
  restic   restic restore latest --target dest --no-cache && sync -f dest
Bars: big: at least as fast as both (ratio <= 1); small: no slower than 2x restic restore (<= 2);
both: peak memory < 300 MiB above idle. Exit status 1 if a bar fails.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from common import (  # noqa: E402
    RESTIC_ENV,
    Measure,
    MemorySampler,
    MiB,
    fresh_dir,
    fsync_tree_cmd,
    q,
    q_dicts,
    run,
    say,
    wait_job,
)


def replica_dirs(conn, db: str, tables: list[str]) -> list[Path]:  # type: ignore[no-untyped-def]
    dirs: list[Path] = []
    for t in tables:
        dirs.extend(Path(str(r["PathHash"])) for r in q_dicts(conn, f"SHOW TABLET FROM {db}.{t}"))
    return dirs


def wait_gone(dirs: list[Path], timeout: float = 120.0) -> None:
    """Wait for the garbage collector to delete the dropped tablets (so it does not run during a timed restore)."""
    deadline = time.monotonic() + timeout
    left = dirs
    while time.monotonic() < deadline:
        left = [d for d in left if d.exists()]
        if not left:
            return
        time.sleep(0.2)
    say(f"warning: {len(left)} dropped tablet directories still exist after {timeout:.0f} s")


def bench_set(args, name: str):  # type: ignore[no-untyped-def]
    spec = common.dataset_spec(name, args.scale, args.replication, args.loads)
    home = common.dataset_home(args.workdir, spec, args.scale)
    with common.daemon_for(home) as daemon:
        conn = daemon.connect()
        ds = common.ensure_dataset(daemon, conn, spec, args.scale, home, args.rebuild)
        w = common.prepare_work(conn, daemon, spec, ds.tables, home / "restore-bench")
        data_dir, work, file_list, abs_list = w.data_dir, w.work, w.file_list, w.abs_list
        label = f"bench_{name}_{int(time.time())}"
        say(f"{name}: set-up backup {label}")
        q(conn, f"BACKUP DATABASE {spec.db} SNAPSHOT {label} TO bench_repo")
        wait_job(conn, f"SHOW BACKUP FROM {spec.db}", label)
        common.wait_snapshots_released(data_dir)
        ts = q_dicts(conn, f"SHOW SNAPSHOT ON bench_repo WHERE SNAPSHOT = '{label}'")[0]["Timestamp"]
        archive = work / "tablets.tar.zst"
        run(f"set -o pipefail; tar cf - -C {data_dir} -T {file_list} | zstd -1 -T0 -q -o {archive}")
        m_daemon = Measure("daemon RESTORE")
        m_tar = Measure("zstd -d | tar x (+sync -f)")
        m_restic = Measure("restic restore (+sync -f)")
        rrepo = work / "restic"
        if args.no_restic:
            m_restic.skipped = "skipped (--no-restic)"
        elif not common.have_restic():
            m_restic.skipped = "skipped: restic is not installed (apt-get install -y restic)"
        else:
            fresh_dir(rrepo)
            run(f"restic -r {rrepo} init -q", env=RESTIC_ENV)
            run(f"restic -r {rrepo} backup --no-cache -q --files-from-verbatim {abs_list}", env=RESTIC_ENV)
        sampler = MemorySampler(daemon.proc.pid)  # type: ignore[union-attr]
        for i in range(args.runs):
            # -- the daemon
            old = replica_dirs(conn, spec.db, ds.tables)
            q(conn, f"DROP DATABASE {spec.db}")
            wait_gone(old)
            run("sync")
            time.sleep(1.0)
            sampler.start()
            t0 = time.perf_counter()
            q(conn, f'RESTORE SNAPSHOT {spec.db}.{label} FROM bench_repo PROPERTIES ("backup_timestamp" = "{ts}", '
                    f'"replication_num" = "{spec.replication}")')
            seen = wait_job(conn, f"SHOW RESTORE FROM {spec.db}", label)
            dt = time.perf_counter() - t0
            mem = sampler.stop()
            m_daemon.times.append(dt)
            m_daemon.mem.append(mem)
            rows = common.count_rows(conn, spec.db, ds.tables)
            if rows != ds.rows:
                raise RuntimeError(f"restored {rows} rows, expected {ds.rows}")
            say(f"{name} run {i + 1}: daemon {dt:.2f} s, peak +{mem / MiB:.0f} MiB, {rows:,} rows back ({common.phases_text(seen)})")
            # -- zstd -d | tar x
            dest = fresh_dir(work / "tar-out")
            run("sync")
            dt = run(f"set -o pipefail; zstd -d -c -q {archive} | tar xf - -C {dest} && {fsync_tree_cmd(dest)}")
            m_tar.times.append(dt)
            say(f"{name} run {i + 1}: zstd -d | tar x {dt:.2f} s")
            fresh_dir(dest)
            # -- restic restore
            if not m_restic.skipped:
                dest = fresh_dir(work / "restic-out")
                run("sync")
                dt = run(f"restic -r {rrepo} restore latest --no-cache -q --target {dest} && {fsync_tree_cmd(dest)}",
                         env=RESTIC_ENV)
                m_restic.times.append(dt)
                say(f"{name} run {i + 1}: restic restore {dt:.2f} s")
                fresh_dir(dest)
        conn.close()
    measures = {"daemon": m_daemon, "tar": m_tar, "restic": m_restic}
    if name == "big":
        specs = [("big: daemon/(zstd -d | tar x) time (at least as fast)", m_tar, 1.0),
                 ("big: daemon/restic restore time (at least as fast)", m_restic, 1.0)]
    else:
        specs = [("small: daemon/restic restore time (no slower than 2x)", m_restic, 2.0)]
    return ds, measures, common.bars_for(name, m_daemon, specs)


def main() -> int:
    args = common.parse_args(__doc__.splitlines()[0])
    say(f"RESTORE benchmark: scale {args.scale:g}, {args.runs} run(s), workdir {args.workdir}")
    results = [bench_set(args, name) for name in args.sets]
    ok = common.report("RESTORE", args.scale, results, args.json)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
