"""The job a data engineer would write by hand instead of using the framework: the baseline of
`benchmarks.pipeline`.

    python -m benchmarks.handwritten --dsn postgresql://... --output /tmp/job

One Spark session configured as the framework's (same memory, shuffle partitions, adaptive
execution, JDBC driver, JIT) in Spark's own JVM, without what the framework adds to it
(`etl.core.jvm`: the class archive, the local file system without a `chmod` per file), one
table after another: each of the 13 upstream tables read over
JDBC in ranges of its key and written as Parquet, then each silver and gold table's
`transform` called on its inputs read back from that Parquet (a history's versions made from
its source's rows) and written as Parquet,
partitioned as its spec says. No checks, no Delta, no change log, no run log, no
concurrency: only the work the pipeline cannot do without.

Prints `seconds=X`, the job's time after its session started; with `--count-rows`, also
`rows=Y`, the rows it wrote, counted after the timing ends. `benchmarks.pipeline` times the
whole process and leaves the count out: a hand-written job need not count what it wrote.
"""

from __future__ import annotations

import argparse
import inspect
import math
import time
from datetime import date
from pathlib import Path

from psycopg2 import sql
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from datagen import SCHEMA
from etl.core.history import HistoryTable, history
from etl.core.registry import Registry
from etl.core.session import build_session
from etl.core.settings import Settings
from etl.core.source_table import INGESTION_DATE, SourceTable
from etl.core.table import Table
from etl.core.upstream import Upstream, jdbc_connection

ROWS_PER_RANGE = 250_000
"""A hand-written job splits a large table's read into ranges of its key, as Spark's guide
shows; small tables stay one query."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="the upstream Postgres (libpq DSN)")
    parser.add_argument("--output", required=True, type=Path, help="folder for the Parquet")
    parser.add_argument("--count-rows", action="store_true", help="print the rows written")
    args = parser.parse_args()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, spark_class_archive=False, spark_local_files_in_process=False
    )
    spark = build_session(settings, app_name="handwritten-job")
    started = time.perf_counter()
    paths = run_job(spark, Upstream(dsn=args.dsn, schema=SCHEMA), args.output)
    print(f"seconds={time.perf_counter() - started:.1f}", flush=True)
    if args.count_rows:
        print(f"rows={sum(spark.read.parquet(str(path)).count() for path in paths)}", flush=True)
    spark.stop()


def run_job(spark: SparkSession, upstream: Upstream, output: Path) -> list[Path]:
    """Every table in dependency order; returns the folders written."""
    registry = Registry.discover()
    paths: list[Path] = []
    for table in registry.build_order():
        started = time.perf_counter()
        if issubclass(table, SourceTable):
            frame = _extracted(spark, upstream, table.spec.name, table.spec.key)
        elif issubclass(table, HistoryTable):
            frame = _first_history(spark, table, output, registry)
        else:
            inputs = {
                name: spark.read.parquet(str(_folder(output, registry.get(name))))
                for name in _transform_inputs(table)
            }
            frame = table.transform(table.__new__(table), **inputs)
        writer = frame.write.mode("overwrite")
        if table.spec.partition_by:
            writer = writer.partitionBy(*table.spec.partition_by)
        writer.parquet(str(_folder(output, table)))
        paths.append(_folder(output, table))
        seconds = time.perf_counter() - started
        print(f"{table.spec.qualified_name}: {seconds:.1f} s", flush=True)
    return paths


def _first_history(
    spark: SparkSession, table: type[HistoryTable], output: Path, registry: Registry
) -> DataFrame:
    """A history's first build: the versions the source's rows make, with nothing before."""
    spec = table.spec
    inputs = {
        name: spark.read.parquet(str(_folder(output, registry.get(name)))) for name in spec.upstream
    }
    versions = history(inputs.pop(spec.source), None, spec, gone_after=date.today())
    return table.shape(table.__new__(table), versions, **inputs)


def _folder(output: Path, table: type[Table]) -> Path:
    return output / table.spec.placed_layer / table.spec.name


def _extracted(spark: SparkSession, upstream: Upstream, name: str, key: str) -> DataFrame:
    """An upstream table whole, with the columns silver tables read besides the source's own."""
    with upstream.connect() as conn, conn.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT min({key}), max({key}), count(*) FROM {table}").format(
                key=sql.Identifier(key), table=sql.Identifier(upstream.schema, name)
            )
        )
        low, high, count = cursor.fetchone()
    url, properties = jdbc_connection(upstream.dsn)
    reader = (
        spark.read.format("jdbc")
        .option("url", url)
        .option("dbtable", f'"{upstream.schema}"."{name}"')
        .option("driver", "org.postgresql.Driver")
        .options(**properties)
    )
    ranges = math.ceil(count / ROWS_PER_RANGE)
    if ranges > 1:
        reader = (
            reader.option("partitionColumn", key)
            .option("lowerBound", low)
            .option("upperBound", high + 1)
            .option("numPartitions", ranges)
        )
    return reader.load().select(
        "*",
        F.current_timestamp().alias("etl_inserted"),
        F.current_date().alias(INGESTION_DATE),
    )


def _transform_inputs(table: type[Table]) -> list[str]:
    """The upstream tables `transform` takes (a spec may list more, for its rules)."""
    parameters = inspect.signature(table.transform).parameters
    return [name for name in parameters if name != "self"]


if __name__ == "__main__":
    main()
