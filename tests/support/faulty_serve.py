"""The real daemon with decorated storage, for crash tests of real processes (replaces the test hooks that
production code used to read from the environment):

    python -m tests.support.faulty_serve [--item-delay-s S] [--slow-keys REGEX] [--slow-ops OPS]
                                         [--snapshot-delay-s S] [--hold-advance STATE,... --hold-s S]
                                         [--transfer-log FILE] serve --data-dir DIR ...

`--item-delay-s` makes every file upload and download (put/get of the backends' repository storage) take
S seconds longer; `--slow-keys` restricts that to keys matching REGEX (e.g. `__info_` holds a backup in
UPLOAD_INFO) and `--slow-ops` to the listed storage operations (e.g. `open_read` slows only downloads,
`list_objects` the snapshot verification); `--snapshot-delay-s` makes each tablet's snapshot take S seconds
(default: the item delay); `--hold-advance` delays by `--hold-s` the frontend's self-message that leaves
one of the listed job states (states without work of their own); `--transfer-log` appends
`upload <key>` / `download <key>` for every file actually moved, so a test can prove a resumed job re-sends
nothing. Everything after the options is `starbackup`'s command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from actors.messages import AdvanceJob
from actors.runtime import PykkaRuntime
from tests.support.faults import (
    READS,
    WRITES,
    FaultyStorageFactory,
    HeldMessages,
    SlowTabletStore,
    StorageFaults,
    TransferLog,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faulty_serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--item-delay-s", type=float, default=0.0)
    parser.add_argument("--slow-keys", default=None)
    parser.add_argument("--snapshot-delay-s", type=float, default=None)
    parser.add_argument("--slow-ops", default=None, help="comma list of storage operations to slow")
    parser.add_argument("--hold-advance", default="", help="comma list of job states to stay in (STATE or "
                                                           "backup:STATE / restore:STATE)")
    parser.add_argument("--hold-s", type=float, default=30.0)
    parser.add_argument("--transfer-log", default=None)
    opts, rest = parser.parse_known_args(argv)
    slow_ops = tuple(opts.slow_ops.split(",")) if opts.slow_ops else WRITES + READS
    faults = StorageFaults(slow=1.0 if opts.item_delay_s else 0.0, slow_s=opts.item_delay_s, slow_keys=opts.slow_keys,
                           slow_ops=slow_ops)
    storage_factory = FaultyStorageFactory(faults, transfers=TransferLog(opts.transfer_log))
    snapshot_delay = opts.item_delay_s if opts.snapshot_delay_s is None else opts.snapshot_delay_s

    def tablet_store(root: Path) -> SlowTabletStore:
        return SlowTabletStore(root, snapshot_delay)

    held = frozenset(s for s in opts.hold_advance.split(",") if s)

    def runtime() -> PykkaRuntime:
        rt = PykkaRuntime()
        if held:
            rt.tell = HeldMessages(  # type: ignore[method-assign]
                rt.tell, lambda m: isinstance(m, AdvanceJob) and (m.from_state in held or f"{m.kind}:{m.from_state}" in held),
                opts.hold_s)
        return rt

    from sqlfront.cli import main as starbackup

    return starbackup(rest, storage_factory=storage_factory,
                      tablet_store_factory=tablet_store if snapshot_delay else None, runtime_factory=runtime)


if __name__ == "__main__":
    sys.exit(main())
