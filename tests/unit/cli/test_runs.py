"""`rainforest runs` and `rainforest runs show` read the run log of the configured warehouse
(written here by `RunLog`, as a run writes it), without Spark."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from etl.cli import app
from etl.core.lake.storage import Storage
from etl.core.runlog import LoggedTable, RunLog, runs_uri, unfinished
from etl.core.settings import Settings

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("RAINFOREST_PROFILE", raising=False)
    monkeypatch.setenv("RAINFOREST_WAREHOUSE", str(tmp_path / "lake"))
    return Settings(warehouse=str(tmp_path / "lake"))


def log_run(settings: Settings, run_id: str, day: date, *tables: dict[str, Any]) -> None:
    log = RunLog(
        uri=runs_uri(settings),
        storage=Storage.from_settings(settings),
        run_id=run_id,
        logical_date=day,
        full_refresh=False,
    )
    for table in tables:
        log.append(LoggedTable(run_id=run_id, logical_date=day, full_refresh=False, **table))


def outcome(table: str, status: str, minute: int, **known: Any) -> dict[str, Any]:
    return {
        "table": table,
        "status": status,
        "started_at": START + timedelta(minutes=minute),
        "finished_at": START + timedelta(minutes=minute, seconds=30),
        "seconds": 30.0,
        **known,
    }


def invoke(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["runs", *arguments])
    return result.exit_code, result.output


def test_runs_lists_the_latest_runs_newest_first(warehouse: Settings) -> None:
    log_run(
        warehouse,
        "aaaa00000001",
        date(2026, 3, 1),
        outcome("bronze.orders", "ok", 0, rows_written=10, strategy="changes", version_written=3),
    )
    log_run(
        warehouse,
        "bbbb00000002",
        date(2026, 3, 2),
        outcome("bronze.orders", "ok", 60, rows_written=12, strategy="changes", version_written=4),
        outcome(
            "silver.fact_orders",
            "failed",
            61,
            error_class="DataQualityError",
            error_message="silver.fact_orders: 2 rows break rule total_positive",
        ),
        outcome("gold.wide_orders", "skipped", 62, note="upstream fact_orders did not build"),
    )

    code, output = invoke()

    assert code == 0, output
    assert output.index("bbbb00000002") < output.index("aaaa00000001")
    assert "1 failed, 1 ok, 1 skipped" in output
    assert "2026-03-02" in output and "2026-03-01" in output

    code, output = invoke("--last", "1")
    assert "bbbb00000002" in output and "aaaa00000001" not in output


def test_runs_show_gives_each_table_and_the_errors(warehouse: Settings) -> None:
    log_run(
        warehouse,
        "cccc00000003",
        date(2026, 3, 2),
        outcome("bronze.orders", "ok", 0, rows_written=1_191, rows_read=1_191, strategy="changes"),
        outcome(
            "silver.fact_orders",
            "ok",
            1,
            rows_written=1_200,
            strategy="merge(order_id)",
            versions_read={"bronze.orders": 7, "silver.dim_buyer": 2},
            version_written=9,
        ),
        outcome(
            "gold.wide_orders",
            "failed",
            2,
            error_class="LakeWriteError",
            error_message="Writing gold/wide_orders failed: the table keeps its last version",
        ),
    )

    code, output = invoke("show", "cccc")

    assert code == 0, output
    assert "logical date 2026-03-02" in output
    assert "merge(order_id)" in output and "1,191" in output
    assert "bronze.orders@7" in output and "silver.dim_buyer@2" in output
    assert "gold.wide_orders (LakeWriteError): Writing gold/wide_orders failed" in output


def test_runs_show_names_an_unknown_run(warehouse: Settings) -> None:
    log_run(warehouse, "dddd00000004", date(2026, 3, 2), outcome("bronze.orders", "ok", 0))

    code, output = invoke("show", "ffff")

    assert code == 2, "a bad argument"
    assert "no run with an id starting 'ffff'" in output


def test_runs_before_any_run_says_what_to_do(warehouse: Settings) -> None:
    code, output = invoke()

    assert code == 1
    assert "No run is logged" in output and "rainforest run" in output


def test_retry_failed_finds_what_a_run_left_undone(warehouse: Settings) -> None:
    log_run(
        warehouse,
        "eeee00000005",
        date(2026, 3, 2),
        outcome("bronze.orders", "ok", 0),
        outcome("silver.fact_orders", "failed", 1, error_class="ServiceUnavailableError"),
        outcome("gold.wide_orders", "skipped", 2, note="upstream fact_orders did not build"),
    )
    log_run(warehouse, "ffff00000006", date(2026, 3, 3), outcome("bronze.orders", "ok", 9))

    undone = unfinished(warehouse, "eeee")

    assert (undone.run_id, undone.logical_date) == ("eeee00000005", date(2026, 3, 2))
    assert undone.tables == ("fact_orders", "wide_orders")
    result = CliRunner().invoke(app, ["run", "--retry-failed", "ffff"])
    assert result.exit_code == 0, result.output
    assert "built every table: nothing to retry" in result.output


def test_retry_failed_takes_no_table_names() -> None:
    result = CliRunner().invoke(app, ["run", "orders", "--retry-failed", "eeee"])

    assert result.exit_code == 2
    assert "not both" in result.output
