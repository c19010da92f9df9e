"""`rainforest datagen --advance`'s arguments: refused before any database is touched."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from etl.cli import app


@pytest.mark.parametrize("days", ["0", "-2"])
def test_advancing_by_less_than_a_day_is_a_usage_error(days: str) -> None:
    result = CliRunner().invoke(app, ["datagen", "--advance", days])

    assert result.exit_code == 2
    assert "--advance" in result.output


@pytest.mark.parametrize(
    "options",
    [["--reset"], ["--if-empty"], ["--scale", "1"], ["--seed", "7"], ["--end-date", "2025-01-31"]],
)
def test_advance_takes_no_option_of_a_load(options: list[str]) -> None:
    result = CliRunner().invoke(app, ["datagen", "--advance", "1", *options])

    assert result.exit_code == 2, "a usage error"
    assert f"drop {options[0]}," in result.output
