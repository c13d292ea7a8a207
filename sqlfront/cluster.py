"""What a SQL session holds of the cluster: a way to ask the frontend actor and wait for the answer.

Sessions are not actors, so they may wait (pykka's rule is only that actors never wait on each other).
"""

from __future__ import annotations

from typing import Any

from actors.messages import Cmd, Read
from actors.runtime import Runtime

ASK_TIMEOUT_S = 3600.0


class ClusterClient:
    def __init__(self, runtime: Runtime, data_dir: str, fe: str = "fe") -> None:
        self.runtime = runtime
        self.data_dir = data_dir
        self.fe = fe

    def ask(self, message: Any) -> Any:
        return self.runtime.ask(self.fe, message, timeout=ASK_TIMEOUT_S)

    def cmd(self, command_name: str, /, **args: Any) -> Any:
        return self.ask(Cmd(command_name, args))

    def read(self, read_name: str, /, **args: Any) -> Any:
        return self.ask(Read(read_name, args))

    def resolve(self, refs: list[tuple[str, str]], dbs: list[str]) -> dict[str, Any]:
        return self.read("resolve", refs=[list(r) for r in refs], function_dbs=dbs)

    def require_database(self, name: str) -> None:
        if name not in self.read("databases"):
            from events.errors import unknown_database

            raise unknown_database(name)
