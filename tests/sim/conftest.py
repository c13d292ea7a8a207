"""A failing simulation names its seed and the command that replays it alone (design §6)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    seed = getattr(item, "callspec", None) and item.callspec.params.get("seed")
    if report.failed and seed is not None:
        report.sections.append(
            ("simulation seed", f"seed {seed}: replay with .venv/bin/python -m pytest '{item.nodeid}'"
                                + (f" (STARBACKUP_SIM_SEED={seed} for tests/sim/test_backup_restore_sim.py)"
                                   if item.module.__name__.endswith("test_backup_restore_sim") else ""))
        )
