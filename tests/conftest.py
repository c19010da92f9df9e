"""Fixtures shared by every suite; each service's fixtures live in `tests/fixtures/`."""

import os

# Test tables are small: by default they would all be rebuilt whole, and the suites would never
# trace a change. Runs the tests start (the CLI in a subprocess) inherit this too.
os.environ["RAINFOREST_INCREMENTAL_MIN_ROWS"] = "0"

pytest_plugins = [
    "tests.fixtures.spark",
    "tests.fixtures.s3",
    "tests.fixtures.postgres",
    "tests.fixtures.environment",
    "tests.fixtures.browser",
]
