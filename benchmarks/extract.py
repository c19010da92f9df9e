"""Bronze extraction of the largest upstream table against a plain COPY of it, in one run.

    python -m benchmarks.extract --scale 10

Loads scale-N data into a throwaway local Postgres (and reports how long generation and
loading took), then alternates rounds of two measurements on the largest table, both of
which read the whole table out of Postgres and discard it: the bronze table's own `extract`
(the partitioned JDBC read the pipeline uses) into Spark's `noop` sink, and
`COPY (SELECT * FROM rainforest.<table>) TO STDOUT` through psycopg2 into a null sink.
Each round also times the whole bronze build (extract, lineage, validation, Delta commit)
for the record. A warm-up runs first, so JVM start-up counts for neither side. The last
line is `extract_ratio=X`: median extraction rows/s over median COPY rows/s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import psycopg2
from psycopg2 import sql

from benchmarks._upstream import upstream_database
from etl.core.pipeline import new_context, run_pipeline
from etl.core.registry import Registry
from etl.core.session import build_session
from etl.core.settings import Settings


class _NullSink:
    """A file that keeps nothing, so the baseline measures the database and the driver alone."""

    def write(self, data: bytes) -> int:
        return len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with upstream_database(scale=args.scale, seed=args.seed) as upstream:
        counts = upstream.counts
        largest = max(counts, key=counts.__getitem__)
        print(f"largest table: {largest} ({counts[largest]:,} rows)")
        dsn = upstream.dsn
        settings = Settings(warehouse=str(upstream.folder / "lakehouse"))
        spark = build_session(settings, app_name="extract-benchmark")
        registry = Registry.discover()

        def build() -> float:
            context = new_context(spark, settings, registry, upstream=upstream.upstream)
            summary = run_pipeline(context, [largest])
            assert summary.ok, summary.failures()
            return summary.outcomes[0].rows or 0

        def extract() -> float:
            table = registry.get(largest)(
                new_context(spark, settings, registry, upstream=upstream.upstream)
            )
            table.extract()["source"].write.format("noop").mode("overwrite").save()
            return counts[largest]

        def copy() -> float:
            statement = sql.SQL("COPY (SELECT * FROM {}) TO STDOUT").format(
                sql.Identifier("rainforest", largest)
            )
            with psycopg2.connect(dsn) as conn, conn.cursor() as cursor:
                cursor.copy_expert(statement, _NullSink())
                return cursor.rowcount

        build()
        extract_rates: list[float] = []
        copy_rates: list[float] = []
        build_rates: list[float] = []
        for round_number in range(1, args.rounds + 1):
            pair = [(extract, extract_rates), (copy, copy_rates)]
            for measure, rates in [
                *(pair if round_number % 2 else reversed(pair)),
                (build, build_rates),
            ]:
                started = time.perf_counter()
                rows = measure()
                rates.append(rows / (time.perf_counter() - started))
            print(
                f"round {round_number}: extract {extract_rates[-1]:,.0f} rows/s, "
                f"COPY {copy_rates[-1]:,.0f} rows/s, "
                f"whole bronze build {build_rates[-1]:,.0f} rows/s"
            )
        spark.stop()
    ratio = statistics.median(extract_rates) / statistics.median(copy_rates)
    print(f"extract_ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
