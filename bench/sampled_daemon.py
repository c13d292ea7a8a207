"""Run `starbackup serve` under an all-threads stack sampler, for finding where a job's time goes.

    .venv/bin/python bench/sampled_daemon.py serve --data-dir DIR --port 19031 ...
    kill -USR1 <pid>    # start sampling; run the statement; then
    kill -USR1 <pid>    # stop: writes collapsed stacks ("<count> frame;frame;...") to $STARBACKUP_STACKS

A thread reads `sys._current_frames()` every 5 ms while sampling is on. A thread blocked in a system call
shows the Python frame that made it, so I/O waits count as well as Python work (py-spy cannot attach
here). Sort the output, or feed it to any flame-graph tool that reads collapsed stacks.
"""

from __future__ import annotations

import collections
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

OUT = os.environ.get("STARBACKUP_STACKS", "stacks.txt")
INTERVAL_S = 0.005

counts: collections.Counter[str] = collections.Counter()
sampling = threading.Event()


def _stack(frame: FrameType | None) -> str:
    names = []
    while frame is not None:
        names.append(f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_code.co_name}")
        frame = frame.f_back
    return ";".join(reversed(names))


def _sample() -> None:
    me = threading.get_ident()
    while True:
        sampling.wait()
        for ident, frame in sys._current_frames().items():
            if ident != me:
                counts[_stack(frame)] += 1
        time.sleep(INTERVAL_S)


def _toggle(*_: Any) -> None:
    if not sampling.is_set():
        counts.clear()
        sampling.set()
        return
    sampling.clear()
    with open(OUT, "w") as fh:
        for stack, n in counts.most_common():
            fh.write(f"{n} {stack}\n")


def main() -> int:
    from sqlfront.cli import main as serve

    signal.signal(signal.SIGUSR1, _toggle)
    threading.Thread(target=_sample, name="stack-sampler", daemon=True).start()
    return serve(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
