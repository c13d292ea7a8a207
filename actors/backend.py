"""A backend worker actor: owns one backend's tablet directory and runs its tasks on bounded pools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actors.runtime import Actor
from storage.tablet_store import TabletStore


class BackendWorker(Actor):
    def __init__(self, backend_id: int, data_dir: Path, config: dict[str, str]) -> None:
        self.backend_id = backend_id
        self.store = TabletStore(Path(data_dir) / f"be{backend_id}")
        self.config = config

    def receive(self, message: Any) -> Any:
        return None
