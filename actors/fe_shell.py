"""What a frontend handler may use of the frontend besides the state: the shell's small surface.

The handlers of `actors/fe_table.py` take a `Shell` rather than the `Frontend` class, so the table and the
modules it is built from never import the frontend (the frontend imports the table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from actors.runtime import Runtime
from events.state import ClusterState


class JobsView(Protocol):
    def resume(self) -> None: ...

    def retry_reason(self, job_id: int) -> str | None: ...


class Shell(Protocol):
    @property
    def data_dir(self) -> Path: ...

    @property
    def state(self) -> ClusterState: ...

    @property
    def runtime(self) -> Runtime: ...

    @property
    def jobs(self) -> JobsView: ...


# A command's handler returns (events, reply); a reply that is callable runs after the events are applied.
# A query's handler returns its answer. Both are looked up by the message's type.
Handler = Callable[[Shell, ClusterState, Any], Any]
HandlerTable = Mapping[type, Handler]

