"""Event log throughput: appends/s (one caller vs group commit), the head anchor's cost, replay events/s,
open + replay and verify of a big log.

    python bench/bench_eventlog.py [--events 200000] [--threads 8] [--per-thread 500] [--dir DIR]

Ratios are to the single-caller, one-event-per-call baseline measured in the same run (design §3 bench/).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from any directory

from storage import log_trust  # noqa: E402
from storage.eventlog import EventLog, NewEvent  # noqa: E402


def _event(stream: int, i: int) -> NewEvent:
    # Shaped like a per-tablet milestone: small payload, idempotency key (the realistic, costlier path).
    data = {"tablet": i, "file": f"__{i}/0_{i}.dat", "md5": f"{i:032x}", "size": 1 << 20, "state": "UPLOADED"}
    return NewEvent(f"job/{stream}", "TabletFileUploaded", 1, data, time_ns=1_700_000_000_000_000_000 + i,
                    key=f"job/{stream}/tablet/{i}")


def bench_appends(path: Path, threads: int, per_thread: int, batch: int) -> tuple[float, int]:
    """(events/s, transactions) for `threads` callers each appending per_thread events in batches."""
    log = EventLog(path)
    start = threading.Barrier(threads + 1)

    def worker(w: int) -> None:
        start.wait()
        for b in range(0, per_thread, batch):
            log.append([_event(w, i) for i in range(b, min(b + batch, per_thread))])

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    txns = log.transactions
    log.close()
    return threads * per_thread / elapsed, txns


def build_log(path: Path, events: int) -> None:
    with EventLog(path) as log:
        for b in range(0, events, 10_000):
            log.append([_event(i % 64, i) for i in range(b, min(b + 10_000, events))])


def anchor_cost(d: Path, args: argparse.Namespace, single_n: int) -> None:
    """What the head anchor (a slot overwritten after every commit, fdatasynced at most once a second) costs: the same appends
    with and without it, alternated so that machine load hits both alike; medians of --anchor-runs pairs."""
    real = log_trust.AnchorFile.update
    cases = [("1 thread, batch 1", 1, single_n, 1), (f"{args.threads} threads, batch 1", args.threads,
                                                       args.per_thread, 1),
             (f"{args.threads} threads, batch 100", args.threads, args.per_thread, 100)]
    for label, threads, per_thread, batch in cases:
        rates: dict[bool, list[float]] = {True: [], False: []}
        for run in range(args.anchor_runs):
            for anchored in ((True, False) if run % 2 == 0 else (False, True)):
                log_trust.AnchorFile.update = real if anchored else (lambda *_a: None)  # type: ignore[method-assign]
                try:
                    rates[anchored].append(bench_appends(d / f"anchor{run}{anchored}{batch}{threads}.sqlite3",
                                                         threads, per_thread, batch)[0])
                finally:
                    log_trust.AnchorFile.update = real  # type: ignore[method-assign]
        with_a, without = statistics.median(rates[True]), statistics.median(rates[False])
        print(f"append, {label:<20} with anchor {with_a:10,.0f} events/s, without {without:10,.0f}: "
              f"x{with_a / without:.2f} (medians of {args.anchor_runs})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000, help="size of the log for the open+replay test")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--per-thread", type=int, default=500, help="events each thread appends")
    ap.add_argument("--anchor-runs", type=int, default=5, help="pairs of runs for the anchor's cost")
    ap.add_argument("--dir", default=None, help="where to put the logs (default: a temporary directory)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp)
        single_n = min(args.per_thread * 2, 2000)
        base, base_tx = bench_appends(d / "single.sqlite3", 1, single_n, 1)
        print(f"append, 1 thread, batch 1:   {base:10,.0f} events/s  ({base_tx} transactions)  baseline")
        for batch in (1, 100):
            rate, tx = bench_appends(d / f"group{batch}.sqlite3", args.threads, args.per_thread, batch)
            calls = args.threads * -(-args.per_thread // batch)
            print(f"append, {args.threads} threads, batch {batch:<3}: {rate:10,.0f} events/s  "
                  f"({tx} transactions for {calls} calls)  x{rate / base:.1f}")
        anchor_cost(d, args, single_n)

        big = d / "big.sqlite3"
        t0 = time.perf_counter()
        build_log(big, args.events)
        build = time.perf_counter() - t0
        size_mb = os.path.getsize(big) / 1e6
        print(f"build {args.events:,}-event log in batches of 10,000: {build:.2f} s "
              f"({args.events / build:,.0f} events/s, {size_mb:.0f} MB)")

        t0 = time.perf_counter()
        with EventLog(big) as log:
            opened = time.perf_counter() - t0
            n = sum(1 for _ in log.read())
            replayed = time.perf_counter() - t0
            report = log.verify()
            verified = time.perf_counter() - t0 - replayed
        assert n == args.events and report.ok and report.count == n
        print(f"open + replay (read + decode) {n:,} events: {replayed:.2f} s "
              f"(open {opened * 1000:.1f} ms, {n / (replayed - opened):,.0f} events/s)")
        print(f"verify (CRC + hash chain) {n:,} events: {verified:.2f} s ({n / verified:,.0f} events/s)")


if __name__ == "__main__":
    main()
