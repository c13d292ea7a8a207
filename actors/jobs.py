"""Placeholder job engine; BACKUP and RESTORE jobs plug in here."""

from __future__ import annotations

from typing import Any


class JobEngine:
    def __init__(self, fe: Any) -> None:
        self.fe = fe

    def resume(self) -> None:
        pass

    def react(self, event_type: str, data: dict[str, Any]) -> None:
        pass

    def on_report(self, report: Any) -> None:
        pass

    def on_progress(self, progress: Any) -> None:
        pass

    def on_tick(self) -> None:
        pass
