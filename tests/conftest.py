from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.conftest_repo"]


@pytest.fixture(scope="session", autouse=True)
def _stop_leftover_actors() -> Iterator[None]:
    """pykka actor threads are not daemon threads: one left running would hang the test run at exit."""
    yield
    import pykka

    pykka.ActorRegistry.stop_all(timeout=30)
