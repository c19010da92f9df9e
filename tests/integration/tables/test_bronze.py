"""Bronze against a real Postgres: every upstream table's current state, with its types."""

from __future__ import annotations

import psycopg2
import pytest
from psycopg2 import sql
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from etl.core.changes import BATCH_ID
from etl.core.pipeline import RunSummary, new_context, run_pipeline
from etl.core.registry import Registry
from etl.core.source_table import INGESTION_DATE, SourceTable
from etl.core.table import RunContext
from tests.e2e.reports import pipeline_settings, upstream_at
from tests.fixtures.postgres import LoadedDatabase

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

REGISTRY = Registry.discover()
BRONZE = sorted(t.spec.name for t in REGISTRY if t.spec.layer == "bronze")
LINEAGE = {
    "etl_inserted": T.TimestampType(),
    "etl_run_id": T.StringType(),
    "etl_source": T.StringType(),
    INGESTION_DATE: T.DateType(),
    BATCH_ID: T.LongType(),
}


def _spark_type(data_type: str, precision: int | None, scale: int | None) -> T.DataType:
    """What Spark's JDBC reader must turn each Postgres type of the schema into."""
    return {
        "bigint": T.LongType(),
        "integer": T.IntegerType(),
        "smallint": T.ShortType(),
        "text": T.StringType(),
        "timestamp with time zone": T.TimestampType(),
        "numeric": T.DecimalType(precision or 38, scale or 0),
    }[data_type]


def _query(dsn: str, statement: sql.Composable, *params: object) -> list[tuple[object, ...]]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


@pytest.fixture(scope="module")
def bronze_run(
    spark: SparkSession, rainforest_db: LoadedDatabase, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RunContext, RunSummary]:
    settings = pipeline_settings(tmp_path_factory.mktemp("bronze"))
    context = new_context(spark, settings, REGISTRY, upstream=upstream_at(rainforest_db.dsn))
    return context, run_pipeline(context, BRONZE)


def test_every_upstream_table_has_a_bronze_table() -> None:
    assert len(BRONZE) == 13
    assert all(issubclass(REGISTRY.get(name), SourceTable) for name in BRONZE)


def test_bronze_run_builds_all_thirteen(bronze_run: tuple[RunContext, RunSummary]) -> None:
    _, summary = bronze_run
    assert summary.ok, summary.failures()
    assert [o.name for o in summary.outcomes] == BRONZE


@pytest.mark.parametrize("name", BRONZE)
def test_current_state_equals_the_source_table(
    name: str, bronze_run: tuple[RunContext, RunSummary], rainforest_db: LoadedDatabase
) -> None:
    context, summary = bronze_run
    table = REGISTRY.get(name)(context)
    key = table.spec.primary_keys[0]
    snapshot = table.read().curr_data

    source_keys = _query(
        rainforest_db.dsn,
        sql.SQL("SELECT {} FROM {}").format(
            sql.Identifier(key), sql.Identifier("rainforest", name)
        ),
    )
    lake_keys = [row[0] for row in snapshot.select(key).collect()]
    assert len(lake_keys) == len(source_keys) == rainforest_db.counts[name]
    assert set(lake_keys) == {row[0] for row in source_keys}
    outcome = next(o for o in summary.outcomes if o.name == name)
    assert outcome.rows == rainforest_db.counts[name]


@pytest.mark.parametrize("name", BRONZE)
def test_column_types_are_preserved(
    name: str, bronze_run: tuple[RunContext, RunSummary], rainforest_db: LoadedDatabase
) -> None:
    context, _ = bronze_run
    columns = _query(
        rainforest_db.dsn,
        sql.SQL(
            "SELECT column_name, data_type, numeric_precision, numeric_scale "
            "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position"
        ),
        "rainforest",
        name,
    )
    expected = {column: _spark_type(kind, p, s) for column, kind, p, s in columns} | LINEAGE
    schema = REGISTRY.get(name)(context).read().curr_data.schema
    assert {f.name: f.dataType for f in schema.fields} == expected


def test_a_second_run_without_upstream_changes_logs_nothing(
    bronze_run: tuple[RunContext, RunSummary], rainforest_db: LoadedDatabase
) -> None:
    context, _ = bronze_run
    again = new_context(context.spark, context.settings, REGISTRY, upstream=context.upstream)
    summary = run_pipeline(again, ["orders"])
    assert summary.ok, summary.failures()
    assert summary.outcomes[-1].rows == 0

    orders = REGISTRY.get("orders")(again)
    assert orders.read().curr_data.count() == rainforest_db.counts["orders"]
    assert context.lake.read(orders.storage_path).count() == rainforest_db.counts["orders"]
    assert len(context.lake.history(orders.storage_path)) == 1, "an empty batch is not committed"
