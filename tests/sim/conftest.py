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
        name = item.originalname  # type: ignore[attr-defined]
        report.sections.append(
            ("simulation seed", f"seed {seed}: replay with STARBACKUP_SIM_SEED={seed} "
                                f"python -m pytest tests/sim -k {name}")
        )
