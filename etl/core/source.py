"""Tables copied from upstream Postgres: extract over JDBC, add lineage, keep a snapshot per day.

A source table file only names the upstream table and its key::

    class Orders(SourceTable):
        \"\"\"One row per upstream order, per ingestion date.\"\"\"

        spec = source_spec("orders", key="order_id")
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from psycopg2 import sql
from psycopg2.extensions import parse_dsn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core.dataset import TableSpec
from etl.core.errors import ConfigError
from etl.core.table import Table
from etl.services.postgres import LocalPostgres, connect

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from etl.core.settings import Settings

UPSTREAM_SCHEMA = "rainforest"
INGESTION_DATE = "etl_ingestion_date"
ROWS_PER_PARTITION = 200_000
MAX_PARTITIONS = 16
FETCH_SIZE = 10_000


def source_spec(table: str, *, key: str, grain: str | None = None) -> TableSpec:
    """The spec every source table shares: bronze layer, one snapshot per ingestion date.

    A run replaces its own date's snapshot, so re-running on one day never doubles rows,
    while earlier days stay readable.
    """
    return TableSpec(
        name=table,
        layer="bronze",
        grain=grain or f"one row per upstream {table} row, per ingestion date",
        primary_keys=(key, INGESTION_DATE),
        partition_by=(INGESTION_DATE,),
        mode="overwrite_partitions",
        description=f"Copy of {UPSTREAM_SCHEMA}.{table} with lineage columns.",
    )


class SourceTable(Table):
    """A bronze table: the upstream table of the same name, as it was at ingestion."""

    upstream_schema: ClassVar[str] = UPSTREAM_SCHEMA

    @property
    def source_name(self) -> str:
        return f"{self.upstream_schema}.{self.spec.name}"

    @property
    def source_key(self) -> str:
        return self.spec.primary_keys[0]

    def extract(self) -> dict[str, DataFrame]:
        settings = self.context.settings
        return {
            "source": read_postgres_table(
                self.context.spark,
                settings,
                LocalPostgres(settings).dsn(),
                schema=self.upstream_schema,
                table=self.spec.name,
                key=self.source_key,
            )
        }

    def transform(self, source: DataFrame) -> DataFrame:  # type: ignore[override]
        run_ts = self.context.run_ts
        return source.select(
            "*",
            F.lit(run_ts).cast("timestamp").alias("etl_inserted"),
            F.lit(self.context.run_id).alias("etl_run_id"),
            F.lit(self.source_name).alias("etl_source"),
            F.lit(run_ts.date()).alias(INGESTION_DATE),
        )


def read_postgres_table(
    spark: SparkSession,
    settings: Settings,
    dsn: str,
    *,
    schema: str,
    table: str,
    key: str,
) -> DataFrame:
    """Read one Postgres table with Spark's JDBC reader, split into ranges of its integer key.

    The number of ranges follows the table's size, so a small table is one task and a
    large one spreads over the cluster.
    """
    if not settings.jdbc_jar.is_file():
        raise ConfigError(
            f"Spark needs the PostgreSQL JDBC driver, not found at {settings.jdbc_jar}. "
            "Install it with `apt-get install libpostgresql-jdbc-java` (or `make install` as "
            "root), or set RAINFOREST_JDBC_JAR to a postgresql.jar."
        )
    with connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT min({key}), max({key}), count(*) FROM {table}").format(
                key=sql.Identifier(key), table=sql.Identifier(schema, table)
            )
        )
        low, high, rows = cursor.fetchone()
    url, properties = jdbc_connection(dsn)
    reader = (
        spark.read.format("jdbc")
        .option("url", url)
        .option("dbtable", f'"{schema}"."{table}"')
        .option("driver", "org.postgresql.Driver")
        .option("fetchsize", FETCH_SIZE)
        # Binary results from the first execution: each range query runs once, and the
        # driver's default (binary only after 5 runs) makes it parse every value from text.
        .option("prepareThreshold", "-1")
        .options(**properties)
    )
    partitions = min(MAX_PARTITIONS, max(1, math.ceil(rows / ROWS_PER_PARTITION)))
    if partitions > 1:
        reader = (
            reader.option("partitionColumn", key)
            .option("lowerBound", low)
            .option("upperBound", high + 1)
            .option("numPartitions", partitions)
        )
    return reader.load()


def jdbc_connection(dsn: str) -> tuple[str, dict[str, str]]:
    """The JDBC URL and the connection properties for a libpq DSN.

    The password travels as a property, not in the URL, so it stays out of query plans.
    """
    parts = parse_dsn(dsn)
    host = parts.get("host", "127.0.0.1")
    if host.startswith("/"):
        raise ConfigError(
            f"The upstream DSN points at a Unix socket ({host}); Spark's JDBC driver needs "
            "TCP: use host=127.0.0.1 and a port."
        )
    url = f"jdbc:postgresql://{host}:{parts.get('port', '5432')}/{parts.get('dbname', 'postgres')}"
    properties = {name: parts[name] for name in ("user", "password") if name in parts}
    return url, properties
