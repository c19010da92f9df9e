"""The whole pipeline on generated data, its report numbers checked against SQL on Postgres."""

from __future__ import annotations

from decimal import Decimal

import psycopg2
import pytest
from pyspark.sql import SparkSession

from etl.core.pipeline import RunSummary, new_context, run_pipeline
from etl.core.registry import Registry
from etl.core.table import RunContext
from tests.e2e.reports import (
    CATEGORY_REPORT_SQL,
    MARTS,
    ORDER_REPORT_SQL,
    Mart,
    category_report,
    order_report,
    pipeline_settings,
    postgres_report,
    upstream_at,
)
from tests.fixtures.postgres import LoadedDatabase

pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.postgres]


@pytest.fixture(scope="module", params=[1, 4], ids=lambda threads: f"threads={threads}")
def pipeline_run(
    request: pytest.FixtureRequest,
    spark: SparkSession,
    rainforest_db: LoadedDatabase,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[RunContext, RunSummary]:
    """A whole run with one table at a time, and with four at once: the same numbers."""
    settings = pipeline_settings(tmp_path_factory.mktemp("e2e"))
    registry = Registry.discover()
    context = new_context(spark, settings, registry, upstream=upstream_at(rainforest_db.dsn))
    return context, run_pipeline(context, threads=request.param)


def test_every_table_builds_once(pipeline_run: tuple[RunContext, RunSummary]) -> None:
    context, summary = pipeline_run
    assert summary.ok, summary.failures()
    names = [o.name for o in summary.outcomes]
    assert sorted(names) == sorted(t.spec.name for t in context.registry)
    assert len(names) == len(set(names))


def test_daily_order_report_equals_sql_on_postgres(
    pipeline_run: tuple[RunContext, RunSummary], rainforest_db: LoadedDatabase
) -> None:
    context, _ = pipeline_run
    expected = postgres_report(rainforest_db.dsn, ORDER_REPORT_SQL, key_columns=1)
    actual = order_report(context)

    assert len(expected) > 10
    assert actual == expected
    assert all(isinstance(v, Decimal) for values in actual.values() for v in values[1:])


def test_daily_category_report_equals_sql_on_postgres(
    pipeline_run: tuple[RunContext, RunSummary], rainforest_db: LoadedDatabase
) -> None:
    context, _ = pipeline_run
    expected = postgres_report(rainforest_db.dsn, CATEGORY_REPORT_SQL, key_columns=2)
    actual = category_report(context)

    assert len(expected) > 50
    assert actual == expected


@pytest.mark.parametrize("mart", MARTS, ids=lambda mart: mart.table)
def test_each_mart_equals_sql_on_postgres(
    mart: Mart, pipeline_run: tuple[RunContext, RunSummary], rainforest_db: LoadedDatabase
) -> None:
    context, _ = pipeline_run
    with psycopg2.connect(rainforest_db.dsn) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM rainforest.clickstream WHERE session_id IS NULL")
        assert cursor.fetchone() == (0,), "the SQL has no sessions to guess"
    expected = mart.expected(rainforest_db.dsn)

    assert len(expected) > 10
    assert mart.actual(context) == expected


def test_a_second_run_gives_identical_reports_and_no_duplicates(
    pipeline_run: tuple[RunContext, RunSummary], rainforest_db: LoadedDatabase
) -> None:
    context, _ = pipeline_run
    before = (order_report(context), category_report(context))

    again = new_context(
        context.spark, context.settings, context.registry, upstream=context.upstream
    )
    summary = run_pipeline(again)

    assert summary.ok, summary.failures()
    assert (order_report(again), category_report(again)) == before
    wide_orders = again.registry.get("wide_orders")(again).read().curr_data
    assert wide_orders.count() == rainforest_db.counts["orders"]
    assert wide_orders.select("order_id").distinct().count() == rainforest_db.counts["orders"]
