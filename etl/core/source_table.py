"""Tables copied from the upstream database: JDBC extract, lineage columns, a snapshot per day.

A source table file only names the upstream table and its key::

    class Orders(SourceTable):
        \"\"\"One row per upstream order, per ingestion date.\"\"\"

        spec = source_spec("orders", key="order_id")

Which database and schema it copies from is the run's `upstream`, resolved by whoever starts
the run, so the same table files read a local server, a replica or a test database.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core.dataset import TableSpec
from etl.core.errors import ConfigError
from etl.core.table import Table
from etl.core.upstream import Upstream, read_postgres_table

INGESTION_DATE = "etl_ingestion_date"


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
        description=f"Copy of upstream table {table} with lineage columns.",
    )


class SourceTable(Table):
    """A bronze table: the upstream table of the same name, as it was at ingestion."""

    @property
    def source_name(self) -> str:
        """`schema.table` upstream, as recorded in the lineage column `etl_source`."""
        return f"{self._upstream().schema}.{self.spec.name}"

    @property
    def source_key(self) -> str:
        return self.spec.primary_keys[0]

    def extract(self) -> dict[str, DataFrame]:
        return {
            "source": read_postgres_table(
                self.context.spark,
                self._upstream(),
                table=self.spec.name,
                key=self.source_key,
                jdbc_jar=self.context.settings.jdbc_jar,
            )
        }

    def transform(self, source: DataFrame) -> DataFrame:  # type: ignore[override]
        run_ts = self.context.run_ts
        return source.select(
            "*",
            F.lit(run_ts).cast("timestamp").alias("etl_inserted"),
            F.lit(self.context.run_id).alias("etl_run_id"),
            F.lit(self.source_name).alias("etl_source"),
            F.lit(self.context.run_date).alias(INGESTION_DATE),
        )

    def _upstream(self) -> Upstream:
        upstream = self.context.upstream
        if upstream is None:
            raise ConfigError(
                f"{self.spec.qualified_name} copies an upstream table, but this run was started "
                "without an upstream database: pass `upstream=` to the run's context."
            )
        return upstream
