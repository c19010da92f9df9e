"""The whole pipeline on data with injected defects: the rules catch exactly those rows.

Clean rows, which the reports are built from, are defined by the silver tables' drop rules and
cascade along foreign keys, never up:

- a product is clean when its price is positive (a rating outside 1-5 is quarantined on its
  own and leaves its product clean);
- a buyer or seller is clean when its user's email is well formed;
- an order is clean when it is not dated in the future, its buyer is clean, and its total
  equals, within a cent, the sum of `quantity * base_price + tax` over all its items as
  recorded upstream (an item's own defect does not make the order's total wrong);
- an item is clean when its quantity is at least 1, its price positive, its tax not
  negative, and its order, product and seller are clean.

`CLEAN_*_REPORT_SQL` (tests/e2e/reports.py) say the same in SQL on the upstream database,
independently of the pipeline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
from deltalake import DeltaTable
from psycopg2 import sql
from psycopg2.extensions import make_dsn
from pyspark.sql import SparkSession

from datagen import Defects, generate, inject_defects
from etl.core.pipeline import RunSummary, new_context, run_pipeline
from etl.core.quality.results import quarantine_uri
from etl.core.registry import Registry
from etl.core.table import RunContext
from tests.e2e.reports import (
    CLEAN_CATEGORY_REPORT_SQL,
    CLEAN_ORDER_REPORT_SQL,
    MARTS,
    Mart,
    category_report,
    clean_report_params,
    order_report,
    pipeline_settings,
    postgres_report,
    upstream_at,
)
from tests.fixtures.postgres import TEST_END_DATE, TEST_SCALE, TEST_SEED, admin, load_into

pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.postgres]

RATE = 0.05

# Defect kind -> (silver table, rule that must catch it, how the rule's rows are identified).
CAUGHT_BY = {
    "non_positive_price": ("fact_order_items", "price_positive", "orderitem_id"),
    "negative_quantity": ("fact_order_items", "quantity_at_least_one", "orderitem_id"),
    "total_mismatch": ("fact_orders", "total_matches_items", "order_id"),
    "rating_above_5": ("fact_ratings", "rating_in_range", "product_id"),
    "unknown_event_type": ("fact_clickstream", "event_type_known", "clickstream_id"),
    "future_timestamp": ("fact_clickstream", "event_ts_not_in_future", "clickstream_id"),
    "duplicate_event": ("fact_clickstream", "event_not_repeated", "clickstream_id"),
}


@dataclass(frozen=True)
class DirtyDatabase:
    dsn: str
    defects: Defects
    buyers_of_user: dict[int, int]
    sellers_of_user: dict[int, int]


@pytest.fixture(scope="module")
def dirty_db(postgres_dsn: str) -> Iterator[DirtyDatabase]:
    name = f"dirty_{uuid.uuid4().hex[:12]}"
    admin(postgres_dsn, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = make_dsn(postgres_dsn, dbname=name)
    clean = generate(scale=TEST_SCALE, seed=TEST_SEED, end_date=TEST_END_DATE)
    tables, defects = inject_defects(clean, rate=RATE, seed=TEST_SEED)
    load_into(dsn, tables)
    owners = {
        kind: dict(
            zip(
                tables[kind].column("user_id").to_pylist(),
                tables[kind].column(f"{kind}_id").to_pylist(),
                strict=True,
            )
        )
        for kind in ("buyer", "seller")
    }
    yield DirtyDatabase(dsn, defects, owners["buyer"], owners["seller"])
    admin(postgres_dsn, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def dirty_run(
    spark: SparkSession, dirty_db: DirtyDatabase, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RunContext, RunSummary]:
    settings = pipeline_settings(tmp_path_factory.mktemp("dirty"))
    context = new_context(spark, settings, Registry.discover(), upstream=upstream_at(dirty_db.dsn))
    return context, run_pipeline(context)


def quarantined(context: RunContext, summary: RunSummary, table: str) -> list[dict]:
    uri = quarantine_uri(context.settings, table)
    if not DeltaTable.is_deltatable(uri):
        return []  # nothing was ever quarantined from this table
    rows = DeltaTable(uri).to_pyarrow_table().to_pylist()
    return [r for r in rows if r["dq_run_id"] == summary.run_id]


def caught(context: RunContext, summary: RunSummary, table: str, rule: str, key: str) -> set:
    return {r[key] for r in quarantined(context, summary, table) if rule in r["failed_rules"]}


def test_the_pipeline_completes(dirty_run: tuple[RunContext, RunSummary]) -> None:
    _, summary = dirty_run
    assert summary.ok, summary.failures()
    assert summary.data_docs is not None and summary.data_docs.is_file()


@pytest.mark.parametrize("kind", sorted(CAUGHT_BY))
def test_quarantine_holds_exactly_the_injected_rows(
    dirty_run: tuple[RunContext, RunSummary], dirty_db: DirtyDatabase, kind: str
) -> None:
    context, summary = dirty_run
    table, rule, key = CAUGHT_BY[kind]

    assert caught(context, summary, table, rule, key) == set(dirty_db.defects.ids[kind])


def test_malformed_emails_quarantine_exactly_their_buyers_and_sellers(
    dirty_run: tuple[RunContext, RunSummary], dirty_db: DirtyDatabase
) -> None:
    context, summary = dirty_run
    users = dirty_db.defects.ids["malformed_email"]
    for table, owners, key in (
        ("dim_buyer", dirty_db.buyers_of_user, "buyer_id"),
        ("dim_seller", dirty_db.sellers_of_user, "seller_id"),
    ):
        expected = {owners[u] for u in users if u in owners}
        assert caught(context, summary, table, "email_well_formed", key) == expected


def test_rows_in_equal_rows_written_plus_quarantined(
    dirty_run: tuple[RunContext, RunSummary],
) -> None:
    _, summary = dirty_run
    with_drops = [o for o in summary.outcomes if o.rows_in is not None]
    assert {o.name for o in with_drops} >= {"fact_orders", "fact_order_items", "dim_product"}
    for outcome in with_drops:
        assert outcome.rows_in == (outcome.rows or 0) + outcome.rows_quarantined, outcome
    assert sum(o.rows_quarantined for o in with_drops) > 0


def test_reports_equal_sql_over_the_clean_rows(
    dirty_run: tuple[RunContext, RunSummary], dirty_db: DirtyDatabase
) -> None:
    context, _ = dirty_run

    orders = order_report(context)
    categories = category_report(context)

    params = clean_report_params(datetime.now(UTC))
    assert orders == postgres_report(dirty_db.dsn, CLEAN_ORDER_REPORT_SQL, 1, params)
    assert categories == postgres_report(dirty_db.dsn, CLEAN_CATEGORY_REPORT_SQL, 2, params)


@pytest.mark.parametrize("mart", MARTS, ids=lambda mart: mart.table)
def test_each_mart_equals_sql_over_the_clean_rows(
    mart: Mart, dirty_run: tuple[RunContext, RunSummary], dirty_db: DirtyDatabase
) -> None:
    context, _ = dirty_run
    expected = mart.expected(dirty_db.dsn, clean_rows_before=datetime.now(UTC))

    assert len(expected) > 10
    assert mart.actual(context) == expected


def test_a_broken_fail_rule_exits_non_zero_naming_the_rule(
    dirty_run: tuple[RunContext, RunSummary], dirty_db: DirtyDatabase, tmp_path: Path
) -> None:
    """Runs last: it adds a 99,999,999.99 USD order, consistent with its one item."""
    clean_users = set(dirty_db.buyers_of_user) - set(dirty_db.defects.ids["malformed_email"])
    buyer = dirty_db.buyers_of_user[min(clean_users)]
    with psycopg2.connect(dirty_db.dsn) as conn, conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO rainforest.orders (buyer_id, order_ts, total_price) "
            "VALUES (%s, %s, 99999999.99) RETURNING order_id",
            (buyer, TEST_END_DATE - timedelta(days=1)),
        )
        (order_id,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO rainforest.orderitem "
            "(order_id, product_id, seller_id, quantity, base_price, tax) "
            "VALUES (%s, 1, 1, 1, 99999999.99, 0)",
            (order_id,),
        )
    env = {
        **os.environ,
        "RAINFOREST_PG_DSN": dirty_db.dsn,
        "RAINFOREST_WAREHOUSE": str(tmp_path / "lakehouse"),
        "RAINFOREST_SPARK_MASTER": "local[2]",
        "RAINFOREST_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    finished = subprocess.run(
        [
            str(Path(sys.executable).parent / "rainforest"),
            "run",
            "daily_order_metrics",
            "--log-format",
            "json",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    output = finished.stdout + finished.stderr
    assert finished.returncode == 3, output
    events = [json.loads(line) for line in finished.stdout.splitlines()]
    (metrics,) = [e for e in events if e.get("table") == "gold.daily_order_metrics"][-1:]
    assert (metrics["event"], metrics["status"]) == ("table_finished", "failed")
    assert metrics["error_class"] == "RulesBroken"
    assert "mean_revenue_plausible" in metrics["message"]
    assert events[-1]["event"] == "run_finished" and events[-1]["exit_code"] == 3
