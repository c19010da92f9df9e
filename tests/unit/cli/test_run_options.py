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
