"""Fixtures shared by every suite; each service's fixtures live in `tests/fixtures/`."""

pytest_plugins = [
    "tests.fixtures.spark",
    "tests.fixtures.s3",
    "tests.fixtures.postgres",
    "tests.fixtures.environment",
]
