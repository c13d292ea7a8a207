"""What a SQL session holds of the cluster: a way to ask the frontend actor and wait for the answer.

Sessions are not actors, so they may wait (pykka's rule is only that actors never wait on each other).
A command (`events/commands.py`) or query (`events/queries.py`) value is the message itself.
"""

from __future__ import annotations

from typing import Any, TypeVar

from actors.runtime import Runtime
from events.commands import Command
from events.errors import unknown_database
from events.queries import Databases, Query, Resolve

ASK_TIMEOUT_S = 3600.0

R = TypeVar("R")


class ClusterClient:
    def __init__(self, runtime: Runtime, data_dir: str, fe: str = "fe") -> None:
        self.runtime = runtime
        self.data_dir = data_dir
        self.fe = fe

    def ask(self, message: Any) -> Any:
        return self.runtime.ask(self.fe, message, timeout=ASK_TIMEOUT_S)

    def cmd(self, command: Command[R]) -> R:
        reply: R = self.ask(command)
        return reply

    def read(self, query: Query[R]) -> R:
        answer: R = self.ask(query)
        return answer

    def resolve(self, refs: list[tuple[str, str]], dbs: list[str]) -> dict[str, Any]:
        return self.read(Resolve(refs=[(r[0], r[1]) for r in refs], function_dbs=list(dbs)))

    def require_database(self, name: str) -> None:
        if name not in self.read(Databases()):
            raise unknown_database(name)
