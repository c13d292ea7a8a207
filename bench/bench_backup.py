"""BACKUP speed (issue 5 item 5): the daemon vs `tar | zstd -1 -T0` and `restic backup` of the same files.

    .venv/bin/python bench/bench_backup.py            # quick: 1/8 of the sizes, median of 3 runs
    .venv/bin/python bench/bench_backup.py --full     # 1 GiB / 64 tablets and 10,000 tablets / 200 MiB

For each data set (see bench/common.py) and each run, in the same run and order:
  daemon   BACKUP DATABASE db SNAPSHOT s TO repo through the MySQL protocol (PyMySQL), polling SHOW BACKUP
           every 20 ms (later every elapsed/50, at most 250 ms) until FINISHED (the state each poll saw is
           logged: a phase breakdown). The file:// repository makes every file durable (fsync, or one
           syncfs per report batch) before it is reported, so before the job can finish
           (storage/repo/local.py, actors/backend.py). Peak RSS of the daemon is sampled every 50 ms
           (psutil) and reported above its idle RSS taken just before the statement.
  tar      tar cf - <tablet files> | zstd -1 -T0 -o out && sync out            (fsync of the archive)
  restic   restic backup --no-cache --files-from-verbatim <list> into a fresh repository (init untimed;
           restic's local backend fsyncs what it writes).
Bars: big: daemon 1.5x faster than tar|zstd (ratio <= 0.667) and 2x faster than restic (<= 0.5);
small: no slower than 2x restic (<= 2); both: peak memory < 300 MiB above idle. Exit status 1 if a bar fails.
"""

from __future__ import annotations

import shutil
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
    q,
    run,
    say,
    wait_job,
)


def bench_set(args, name: str):  # type: ignore[no-untyped-def]
    spec = common.dataset_spec(name, args.scale, args.replication, args.loads)
    home = common.dataset_home(args.workdir, spec, args.scale)
    with common.daemon_for(home) as daemon:
        conn = daemon.connect()
        ds = common.ensure_dataset(daemon, conn, spec, args.scale, home, args.rebuild)
        w = common.prepare_work(conn, daemon, spec, ds.tables, home / "backup-bench")
        data_dir, work, file_list, abs_list, repo_dir = w.data_dir, w.work, w.file_list, w.abs_list, w.repo_dir
        m_daemon = Measure("daemon BACKUP")
        m_tar = Measure("tar | zstd -1 -T0 (+sync)")
        m_restic = Measure("restic backup")
        if args.no_restic:
            m_restic.skipped = "skipped (--no-restic)"
        elif not common.have_restic():
            m_restic.skipped = "skipped: restic is not installed (apt-get install -y restic)"
        sampler = MemorySampler(daemon.proc.pid)  # type: ignore[union-attr]
        for i in range(args.runs):
            # -- the daemon
            run("sync")
            time.sleep(1.0)  # let the previous run's clean-up (snapshot release, GC) settle
            label = f"bench_{name}_{int(time.time())}_{i}"
            sampler.start()
            t0 = time.perf_counter()
            q(conn, f"BACKUP DATABASE {spec.db} SNAPSHOT {label} TO bench_repo")
            seen = wait_job(conn, f"SHOW BACKUP FROM {spec.db}", label)
            dt = time.perf_counter() - t0
            mem = sampler.stop()
            m_daemon.times.append(dt)
            m_daemon.mem.append(mem)
            common.wait_snapshots_released(data_dir)
            snap = next(repo_dir.glob(f"*/__ss_{label}"))
            uploaded = [p for p in (snap / "__ss_content").rglob("*") if p.is_file()]
            up_bytes = sum(p.stat().st_size for p in uploaded)
            if len(uploaded) != ds.files or up_bytes != ds.bytes:
                raise RuntimeError(f"backup {label} holds {len(uploaded)} files / {up_bytes} B, "
                                   f"expected {ds.files} / {ds.bytes}")
            say(f"{name} run {i + 1}: daemon {dt:.2f} s, peak +{mem / MiB:.0f} MiB ({common.phases_text(seen)})")
            shutil.rmtree(snap)  # keep the disk small; the daemon does not need it any more
            # -- tar | zstd
            out = work / "tablets.tar.zst"
            out.unlink(missing_ok=True)
            run("sync")
            dt = run(f"set -o pipefail; tar cf - -C {data_dir} -T {file_list} | zstd -1 -T0 -q -o {out} && sync {out}")
            m_tar.times.append(dt)
            say(f"{name} run {i + 1}: tar|zstd {dt:.2f} s ({out.stat().st_size / MiB:.1f} MiB archive)")
            out.unlink()
            # -- restic
            if not m_restic.skipped:
                rrepo = fresh_dir(work / "restic")
                run(f"restic -r {rrepo} init -q", env=RESTIC_ENV)
                run("sync")
                dt = run(f"restic -r {rrepo} backup --no-cache -q --files-from-verbatim {abs_list}", env=RESTIC_ENV)
                m_restic.times.append(dt)
                say(f"{name} run {i + 1}: restic {dt:.2f} s")
                shutil.rmtree(rrepo)
        conn.close()
    measures = {"daemon": m_daemon, "tar": m_tar, "restic": m_restic}
    if name == "big":
        specs = [("big: daemon/tar|zstd time (1.5x faster)", m_tar, 1 / 1.5),
                 ("big: daemon/restic time (2x faster)", m_restic, 0.5)]
    else:
        specs = [("small: daemon/restic time (no slower than 2x)", m_restic, 2.0)]
    return ds, measures, common.bars_for(name, m_daemon, specs)


def main() -> int:
    args = common.parse_args(__doc__.splitlines()[0])
    say(f"BACKUP benchmark: scale {args.scale:g}, {args.runs} run(s), workdir {args.workdir}")
    results = [bench_set(args, name) for name in args.sets]
    ok = common.report("BACKUP", args.scale, results, args.json)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
