"""The last entry of a table's Delta log cut short, as a failing disk or an interrupted copy
leaves it: commands that open the table fail with an error naming it and the command that
repairs it, and after that restore the next run completes with reports equal to SQL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.faults.support import (
    ORDER_REPORT,
    RAINFOREST,
    Shop,
    assert_every_table_opens,
    assert_reports_equal_postgres,
    build,
    run,
)

pytestmark = [pytest.mark.faults, pytest.mark.spark, pytest.mark.postgres]


def command(shop: Shop, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RAINFOREST), *args], env=shop.env(), capture_output=True, text=True, check=False
    )


def test_a_cut_log_entry_names_its_table_and_the_restore_that_repairs_it(
    spark: SparkSession, shop: Shop
) -> None:
    day = shop.simulated_through()
    build(spark, shop, day, ORDER_REPORT)
    build(spark, shop, day, ORDER_REPORT, full_refresh=True)
    log = Path(shop.warehouse) / "silver" / "fact_orders" / "_delta_log"
    last = max(log.glob("*.json"))
    last.write_bytes(last.read_bytes()[:200])
    intact = int(last.stem) - 1
    advice = f"`rainforest restore silver.fact_orders --version {intact}`"

    damaged = run(shop, "silver.fact_orders", "--date", day.isoformat())

    assert damaged.returncode == 1, damaged.explain()
    (failed,) = [e for e in damaged.of("table_finished") if e["status"] == "failed"]
    assert failed["table"] == "silver.fact_orders"
    assert "The Delta log of silver.fact_orders" in str(failed["message"])
    assert advice in str(failed["message"])
    history = command(shop, "history", "silver.fact_orders")
    assert history.returncode == 1
    assert "Traceback" not in history.stderr
    assert advice in " ".join(history.stderr.split())

    restored = command(shop, "restore", "silver.fact_orders", "--version", str(intact))

    assert restored.returncode == 0, restored.stderr
    assert (log.parent / "_damaged_log" / last.name).is_file()
    build(spark, shop, day, ORDER_REPORT)
    assert_every_table_opens(shop.settings())
    assert_reports_equal_postgres(spark, shop, day, categories=False)
