"""`rainforest run`'s arguments: a bad one is a usage error (exit 2) before anything starts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from etl.cli import app


@pytest.mark.parametrize("value", ["2026-13-01", "01/03/2026", "yesterday"])
def test_a_date_that_does_not_parse_is_a_usage_error(value: str) -> None:
    result = CliRunner().invoke(app, ["run", "--date", value])

    assert result.exit_code == 2
    assert "--date" in result.output


@pytest.mark.parametrize(
    "arguments",
    [
        ["--from", "2026-02-30", "--to", "2026-03-02"],
        ["--from", "2026-03-01", "--to", "tomorrow"],
    ],
)
def test_a_backfill_date_that_does_not_parse_is_a_usage_error(arguments: list[str]) -> None:
    result = CliRunner().invoke(app, ["backfill", *arguments])

    assert result.exit_code == 2
    assert "Invalid value" in result.output


def test_a_backfill_that_ends_before_it_starts_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["backfill", "--from", "2026-03-05", "--to", "2026-03-01"])

    assert result.exit_code == 2
    assert "--from 2026-03-05 is after --to 2026-03-01" in result.output


@pytest.mark.parametrize(
    "command", [["run"], ["backfill", "--from", "2026-03-01", "--to", "2026-03-02"]]
)
@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_threads_must_be_a_positive_number(command: list[str], value: str) -> None:
    result = CliRunner().invoke(app, [*command, "--threads", value])

    assert result.exit_code == 2
    assert "--threads" in result.output
