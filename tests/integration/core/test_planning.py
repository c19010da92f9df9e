"""`rainforest plan` and skipping what is up to date, on the rainforest model and a real Postgres.

The plan is checked against what the graph of table specs says (the tables downstream of a
change), and against what a run then does; it must leave every file of the warehouse as it
was and start no JVM.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

import etl.tables
from etl.core.lake import LakeLog
from etl.core.pipeline import RunSummary, new_context, run_pipeline
from etl.core.planning import PlannedTable, plan_run
from etl.core.registry import Registry
from etl.core.rollback import restore_table
from etl.core.settings import Settings
from tests.e2e.reports import pipeline_settings, upstream_at
from tests.fixtures.postgres import TEST_END_DATE, change_an_email, generated_shop

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

REGISTRY = Registry.discover()
EVERY_TABLE = {table.spec.qualified_name for table in REGISTRY}
DAY = TEST_END_DATE
RAINFOREST = Path(sys.executable).parent / "rainforest"


@dataclass(frozen=True)
class Shop:
    dsn: str
    settings: Settings

    def plan(self, registry: Registry = REGISTRY, **options: bool) -> dict[str, PlannedTable]:
        """The plan for DAY, checking that making it wrote nothing."""
        before = _files(self.settings)
        planned = plan_run(
            registry,
            self.settings,
            LakeLog(self.settings),
            upstream=upstream_at(self.dsn),
            run_date=DAY,
            **options,
        )
        assert _files(self.settings) == before, "planning wrote nothing"
        return {line.table: line for line in planned}

    def run(self, spark: SparkSession) -> RunSummary:
        context = new_context(
            spark, self.settings, REGISTRY, upstream=upstream_at(self.dsn), logical_date=DAY
        )
        summary = run_pipeline(context)
        assert summary.ok, [(o.name, o.message) for o in summary.failures()]
        return summary

    def change_one_email(self) -> None:
        change_an_email(self.dsn)

    def versions(self) -> dict[str, int | None]:
        lake = LakeLog(self.settings)
        return {t.spec.qualified_name: lake.version(t.uri_in(self.settings)) for t in REGISTRY}


@pytest.fixture
def shop(postgres_dsn: str, tmp_path: Path) -> Iterator[Shop]:
    with generated_shop(postgres_dsn) as dsn:
        yield Shop(dsn, pipeline_settings(tmp_path))


def _files(settings: Settings) -> dict[str, tuple[int, int]]:
    root = Path(settings.warehouse)
    return {
        str(path): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


def downstream_of(name: str) -> set[str]:
    """`name` and every table that reads it, directly or not, from the specs alone."""
    found = {name}
    for table in REGISTRY.build_order():
        if found & set(table.spec.upstream):
            found.add(table.spec.name)
    return {REGISTRY.get(n).spec.qualified_name for n in found}


def built(planned: dict[str, PlannedTable]) -> set[str]:
    return {name for name, line in planned.items() if line.action == "build"}


def to_build_or_check(planned: dict[str, PlannedTable]) -> set[str]:
    return {name for name, line in planned.items() if line.action != "skip"}


def rebuilt(summary: RunSummary) -> set[str]:
    return {f"{o.layer}.{o.name}" for o in summary.outcomes if not o.up_to_date}


def test_plan_says_what_a_run_would_build_and_why_without_writing(
    shop: Shop, spark: SparkSession, tmp_path: Path
) -> None:
    fresh = shop.plan()
    assert built(fresh) == EVERY_TABLE
    assert {line.reason for line in fresh.values()} == {"never built"}
    assert fresh["bronze.orders"].how == "snapshot"
    assert not Path(shop.settings.warehouse).exists(), "a plan creates no warehouse"
    assert _plan_without_java(shop) == 0

    shop.run(spark)
    after_run = shop.plan()
    assert built(after_run) == set()
    assert after_run["bronze.appuser"].reason == "no upstream row changed since its last batch"
    assert after_run["gold.wide_orders"].reason == "no input changed"

    shop.change_one_email()
    changed = shop.plan()
    assert built(changed) == {"bronze.appuser", "silver.dim_buyer_history"}
    assert to_build_or_check(changed) == downstream_of("appuser")
    segments = changed["gold.customer_segments"]
    assert (segments.action, segments.how) == ("check", "full"), "whole, if fact_orders changes"
    assert changed["gold.wide_orders"].how == "merge(order_id)"
    assert changed["bronze.appuser"].reason.startswith(
        "1 row changed upstream since its high-water mark"
    )
    assert "bronze.appuser is built before it" in changed["silver.dim_buyer"].reason
    assert built(shop.plan(full_refresh=True)) == EVERY_TABLE
    forced = shop.plan(force=True)
    assert built(forced) == EVERY_TABLE
    assert forced["bronze.orders"].reason == "forced by --force"

    assert rebuilt(shop.run(spark)) <= to_build_or_check(changed)

    edited = shop.plan(
        _registry_with_edit(
            tmp_path,
            "gold/daily_order_metrics.py",
            'fact_orders.filter(F.col("order_date").isNotNull())',
            'fact_orders.where(F.col("order_date").isNotNull())',
        )
    )
    assert built(edited) == {"gold.daily_order_metrics"}
    assert edited["gold.daily_order_metrics"].reason == (
        "its definition changed since its last build"
    )
    helper = shop.plan(
        _registry_with_edit(
            tmp_path, "gold/_money.py", "F.round(amount, 2)", "F.round(amount, scale=2)"
        )
    )
    assert built(helper) == {
        "gold.daily_order_metrics",
        "gold.daily_category_metrics",
        "gold.daily_business_metrics",
        "gold.customer_segments",
        "gold.product_performance",
        "gold.user_daily_features",
    }, "the tables whose module imports from the edited helper module"

    restore_table(shop.settings, REGISTRY, "dim_buyer", version=0)
    restored = shop.plan()
    assert restored["silver.dim_buyer"].reason.startswith(
        "bronze.appuser is at version 1, newer than version 0 it read"
    ), "it holds again what it built from version 0"
    for reader in ("silver.fact_orders", "gold.wide_orders"):
        assert (restored[reader].action, restored[reader].how) == ("build", "full")
        assert restored[reader].reason == "silver.dim_buyer was restored to an earlier version"


def test_a_run_skips_what_is_up_to_date_and_rebuilds_what_a_change_reaches(
    shop: Shop, spark: SparkSession
) -> None:
    shop.run(spark)
    versions = shop.versions()

    again = shop.run(spark)

    assert rebuilt(again) == set()
    assert {o.shown_status for o in again.outcomes} == {"skipped (up to date)"}
    assert shop.versions() == versions, "no table got a new version"

    shop.change_one_email()
    after_change = shop.run(spark)

    # The tables that hold a buyer's email, and the features, which map buyers to users
    # with dim_buyer and rebuild whole when it changes.
    reached = {
        "bronze.appuser",
        "silver.dim_buyer",
        "silver.dim_buyer_history",
        "gold.wide_orders",
        "gold.user_daily_features",
    }
    assert rebuilt(after_change) == reached
    moved = {name for name, version in shop.versions().items() if version != versions[name]}
    assert moved == reached


def _registry_with_edit(folder: Path, file: str, old: str, new: str) -> Registry:
    """The project's tables from a copy of their package (importing its own helpers), with
    `old` replaced by `new` in `file`: the same rows, written differently."""
    package = f"edited_{uuid.uuid4().hex[:8]}"
    copy = folder / package
    shutil.copytree(Path(etl.tables.__file__).parent, copy)
    for module in copy.rglob("*.py"):
        module.write_text(module.read_text().replace("from etl.tables.", f"from {package}."))
    edited = copy / file
    code = edited.read_text()
    assert old in code
    edited.write_text(code.replace(old, new))
    sys.path.insert(0, str(folder))
    try:
        return Registry.discover(package)
    finally:
        sys.path.remove(str(folder))


def _plan_without_java(shop: Shop) -> int:
    """`rainforest plan` with no Java to start (it must not need one), as text and as JSON."""
    env = {
        **os.environ,
        "JAVA_HOME": "/nonexistent/java",
        "RAINFOREST_PG_DSN": shop.dsn,
        "RAINFOREST_WAREHOUSE": shop.settings.warehouse,
    }

    def plan(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RAINFOREST), "plan", "--date", DAY.isoformat(), *options],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    text, as_json = plan(), plan("--format", "json")
    assert f"{len(EVERY_TABLE)} to build, 0 to check" in text.stdout, text.stdout + text.stderr
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {record["table"] for record in records} == EVERY_TABLE
    assert {(r["action"], r["reason"], r["logical_date"]) for r in records} == {
        ("build", "never built", DAY.isoformat())
    }
    assert not Path(shop.settings.warehouse).exists()
    return text.returncode or as_json.returncode
