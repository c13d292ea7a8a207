"""The real daemon with decorated storage, for crash tests of real processes (replaces the test hooks that
production code used to read from the environment):

    python -m tests.support.faulty_serve [--item-delay-s S] [--slow-keys REGEX] [--snapshot-delay-s S]
                                         [--transfer-log FILE] serve --data-dir DIR ...

`--item-delay-s` makes every file upload and download (put/get of the backends' repository storage) take
S seconds longer, `--slow-keys` restricts that to keys matching REGEX (e.g. `__info_` holds a backup in
UPLOAD_INFO), `--snapshot-delay-s` makes each tablet's snapshot take S seconds (default: the item delay),
and `--transfer-log` appends `upload <key>` / `download <key>` for every file actually moved, so a test
can prove a resumed job re-sends nothing. Everything after the options is `starbackup`'s command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.support.faults import (
    READS,
    WRITES,
    FaultyStorageFactory,
    SlowTabletStore,
    StorageFaults,
    TransferLog,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faulty_serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--item-delay-s", type=float, default=0.0)
    parser.add_argument("--slow-keys", default=None)
    parser.add_argument("--snapshot-delay-s", type=float, default=None)
    parser.add_argument("--transfer-log", default=None)
    opts, rest = parser.parse_known_args(argv)
    faults = StorageFaults(slow=1.0 if opts.item_delay_s else 0.0, slow_s=opts.item_delay_s, slow_keys=opts.slow_keys,
                           slow_ops=WRITES + READS)
    storage_factory = FaultyStorageFactory(faults, transfers=TransferLog(opts.transfer_log))
    snapshot_delay = opts.item_delay_s if opts.snapshot_delay_s is None else opts.snapshot_delay_s

    def tablet_store(root: Path) -> SlowTabletStore:
        return SlowTabletStore(root, snapshot_delay)

    from sqlfront.cli import main as starbackup

    return starbackup(rest, storage_factory=storage_factory,
                      tablet_store_factory=tablet_store if snapshot_delay else None)


if __name__ == "__main__":
    sys.exit(main())
