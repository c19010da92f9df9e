"""Commands end with their own exit code, every time: run repeatedly as separate processes,
as a scheduler runs them, none may die at interpreter exit (SIGABRT, exit 134), which
deltalake 1.6's default filesystem did to about one short process in five here."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from etl.core.quality.results import QualityResults
from etl.core.quality.rules import RuleResult
from etl.core.runlog import LoggedTable, RunLog
from etl.core.settings import Settings

REPEATS = 12
RAINFOREST = Path(sys.executable).parent / "rainforest"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with a logged run, its quality results and a table of two versions, as
    `rainforest run` leaves it."""
    folder = tmp_path_factory.mktemp("exit-codes") / "lakehouse"
    settings = Settings(warehouse=str(folder))
    moment = datetime(2026, 3, 2, 6, tzinfo=UTC)
    day = date(2026, 3, 1)
    log = RunLog.of_run(settings, run_id="feed0001", logical_date=day, full_refresh=False)
    for table in ("bronze.orders", "silver.fact_orders", "gold.wide_orders"):
        log.append(
            LoggedTable(
                run_id="feed0001",
                logical_date=day,
                full_refresh=False,
                table=table,
                status="ok",
                rows_written=10,
                started_at=moment,
                finished_at=moment,
            )
        )
    for version in range(2):
        write_deltalake(
            settings.table_uri("silver", "fact_orders"),
            pa.table({"order_id": [version], "total_price": [10.0]}),
            mode="overwrite",
        )
    results = QualityResults.of_run(settings, run_id="feed0001", run_ts=moment)
    results.append(
        "silver.fact_orders",
        [
            RuleResult(
                table="silver.fact_orders",
                rule="primary_key_unique",
                severity="fail",
                expectation="ExpectCompoundColumnsToBeUnique",
                success=True,
                unexpected_count=0,
                element_count=10,
            )
        ],
    )
    return folder


@pytest.mark.parametrize(
    "command",
    [
        ["runs"],
        ["runs", "show", "feed"],
        ["dq"],
        ["dq", "docs"],
        ["tables"],
        ["history", "silver.fact_orders"],
        ["maintain"],
    ],
)
def test_a_command_exits_cleanly_every_time(warehouse: Path, command: list[str]) -> None:
    env = {**os.environ, "RAINFOREST_WAREHOUSE": str(warehouse)}
    env.pop("RAINFOREST_PROFILE", None)
    codes = []
    for _ in range(REPEATS):
        done = subprocess.run(
            [str(RAINFOREST), *command], env=env, capture_output=True, text=True, check=False
        )
        assert "terminate called" not in done.stderr, done.stderr
        codes.append(done.returncode)
    assert codes == [0] * REPEATS
