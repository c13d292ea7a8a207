pytest_plugins = ["tests.conftest_repo"]
