"""The shop every fault test breaks runs of: the test data in a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datagen import generate
from tests.faults.support import Shop
from tests.fixtures.postgres import (
    TEST_END_DATE,
    TEST_SCALE,
    TEST_SEED,
    load_into,
    scratch_database,
)


@pytest.fixture
def shop(postgres_dsn: str, tmp_path: Path) -> Iterator[Shop]:
    """The test data in a new database on the session's server, and an empty warehouse."""
    with scratch_database(postgres_dsn) as dsn:
        load_into(dsn, generate(scale=TEST_SCALE, seed=TEST_SEED, end_date=TEST_END_DATE))
        yield Shop(dsn, tmp_path)
