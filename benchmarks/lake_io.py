"""Lake write and read against Spark's own Parquet I/O on local disk, on one cached DataFrame.

    python -m benchmarks.lake_io --rows 5000000
    python -m benchmarks.lake_io --storage s3

With `--storage s3` the lake lives on a SeaweedFS server started for the run (its data in the
run's temporary folder), so the framework's side goes through the Python Arrow writer and
reader while the native side stays on local disk: the figure says what S3 costs over the
fastest path Spark has.

Spark's Python data source, the only way rows reach Spark from S3 here, turns every Arrow
batch into rows twice (the source's projection and a `Project` Spark keeps over row-based
scans) where its own Parquet scan stays columnar; on S3 the benchmark also reads a local copy
of the table through that source and prints `python_reader_floor_ratio`, the least any reader
behind it can reach.

A warm-up round (JIT, Python workers, page cache, the S3 server's first volumes) is not counted;
timed rounds alternate which side goes first, so that warm caches favour neither. The last line
is `write_ratio=X read_ratio=Y` (`s3_write_ratio=X s3_read_ratio=Y` on S3): medians of
framework time over native time.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from etl.core.lake import Lake
from etl.core.lake.datasource import FORMAT_NAME, OPTION_MODE
from etl.core.lake.storage import is_local
from etl.core.session import build_session
from etl.core.settings import Settings
from etl.services import seaweedfs
from etl.services.seaweedfs import SeaweedS3
from etl.services.state import free_port

_BUCKET = "benchmark"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--storage", choices=("local", "s3"), default="local")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="lake-io-") as folder,
        _warehouse(Path(folder), args.storage) as (warehouse, storage_settings),
    ):
        settings = Settings(spark_master=args.master, warehouse=warehouse, **storage_settings)
        ratios = _measure(settings, folder, rows=args.rows, rounds=args.rounds)
    prefix = "s3_" if args.storage == "s3" else ""
    if args.storage == "local":
        print(f"python_writer_ratio={statistics.median(ratios['python_write']):.2f}")
    else:
        print(f"python_reader_floor_ratio={statistics.median(ratios['python_read']):.2f}")
    print(
        f"{prefix}write_ratio={statistics.median(ratios['write']):.2f} "
        f"{prefix}read_ratio={statistics.median(ratios['read']):.2f}"
    )


@contextlib.contextmanager
def _warehouse(folder: Path, storage: str) -> Iterator[tuple[str, dict[str, object]]]:
    """The lake's warehouse URI and S3 settings: a local folder, or a bucket on a SeaweedFS
    server that lives as long as the benchmark."""
    if storage == "local":
        yield f"{folder}/lake", {}
        return
    server = SeaweedS3(
        data_dir=folder / "s3",
        port=free_port(),
        bucket=_BUCKET,
        access_key_id="benchmark",
        secret_access_key=secrets.token_urlsafe(24),
    )
    process = seaweedfs.start(server, log=folder / "s3.log")
    try:
        yield (
            f"s3://{_BUCKET}/lake",
            {
                "s3_endpoint": server.endpoint,
                "s3_access_key_id": server.access_key_id,
                "s3_secret_access_key": server.secret_access_key,
            },
        )
    finally:
        seaweedfs.stop(process)


def _measure(settings: Settings, folder: str, *, rows: int, rounds: int) -> dict[str, list[float]]:
    """Per-round ratios of framework time over native time."""
    spark = build_session(settings, app_name="lake-io-benchmark")
    lake = Lake(spark, settings)
    df = _frame(spark, rows).cache()
    df.count()
    native_path = f"{folder}/native"
    uri = settings.table_uri("bench", "lake_io")
    python_uri = settings.table_uri("bench", "lake_io_python_writer")
    floor_uri = f"{folder}/python_reader_floor"
    on_s3 = not is_local(uri)

    def native_write() -> None:
        df.write.mode("overwrite").parquet(native_path)

    def lake_write() -> None:
        lake.write(df, uri, mode="overwrite")

    def python_write() -> None:
        """The Python Arrow writer, which S3 warehouses use; timed for the record."""
        _python_write(df, python_uri)

    def native_read() -> None:
        _scan(spark.read.parquet(native_path))

    def lake_read() -> None:
        _scan(lake.read(uri))

    def python_read() -> None:
        """The lake's Python reader on local disk: what is left once S3 costs nothing."""
        _scan(spark.read.format(FORMAT_NAME).load(floor_uri))

    warm_ups = [native_write, lake_write, native_read, lake_read]
    if on_s3:
        lake.write(df, floor_uri, mode="overwrite")
        warm_ups.append(python_read)
    else:
        warm_ups.append(python_write)
    for warm_up in warm_ups:
        warm_up()
    ratios: dict[str, list[float]] = {
        "write": [],
        "read": [],
        "python_write": [],
        "python_read": [],
    }
    for round_number in range(1, rounds + 1):
        native_first = round_number % 2 == 1
        write_native, write_lake = _pair(native_write, lake_write, native_first=native_first)
        read_native, read_lake = _pair(native_read, lake_read, native_first=native_first)
        ratios["write"].append(write_lake / write_native)
        ratios["read"].append(read_lake / read_native)
        line = (
            f"round {round_number}: write native={write_native:.2f}s lake={write_lake:.2f}s "
            f"ratio={ratios['write'][-1]:.2f} | read native={read_native:.2f}s "
            f"lake={read_lake:.2f}s ratio={ratios['read'][-1]:.2f}"
        )
        if on_s3:
            read_python = _timed(python_read)
            ratios["python_read"].append(read_python / read_native)
            line += (
                f" | python reader, local={read_python:.2f}s ratio={ratios['python_read'][-1]:.2f}"
            )
        else:
            write_python = _timed(python_write)
            ratios["python_write"].append(write_python / write_native)
            line += f" | python writer={write_python:.2f}s ratio={ratios['python_write'][-1]:.2f}"
        print(line, flush=True)
    _check_same_rows(spark, lake, native_path, uri)
    spark.stop()
    return ratios


def _frame(spark: SparkSession, rows: int) -> DataFrame:
    """Columns of the types the pipeline's tables hold, with realistic cardinalities."""
    ids = F.col("id")
    return spark.range(rows).select(
        ids.cast("int").alias("order_id"),
        F.concat(F.lit("customer-"), (ids % 100_003).cast("string")).alias("customer_name"),
        (F.rand(seed=1) * 1000).alias("score"),
        (F.rand(seed=2) * 10_000).cast("decimal(10,2)").alias("amount_usd"),
        F.timestamp_seconds(F.lit(1_700_000_000) + ids * 7).alias("ordered_at"),
        F.date_add(F.lit("2024-01-01").cast("date"), (ids % 365).cast("int")).alias("order_date"),
    )


def _aggregates() -> list[Column]:
    return [
        F.count(F.lit(1)),
        F.sum("order_id"),
        F.max("customer_name"),
        F.sum("score"),
        F.sum("amount_usd"),
        F.max("ordered_at"),
        F.min("order_date"),
    ]


def _scan(df: DataFrame) -> None:
    df.agg(*_aggregates()).collect()


def _pair(
    native: Callable[[], object], lake: Callable[[], object], *, native_first: bool
) -> tuple[float, float]:
    if native_first:
        native_time = _timed(native)
        return native_time, _timed(lake)
    lake_time = _timed(lake)
    return _timed(native), lake_time


def _python_write(df: DataFrame, uri: str) -> None:
    df.write.format(FORMAT_NAME).mode("overwrite").option(OPTION_MODE, "overwrite").save(uri)


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _check_same_rows(spark: SparkSession, lake: Lake, native_path: str, uri: str) -> None:
    """Guard the figures: both sides must have written and read the same data."""
    native = spark.read.parquet(native_path).agg(*_aggregates()).collect()
    framework = lake.read(uri).agg(*_aggregates()).collect()
    if native != framework:
        raise SystemExit(f"results differ: native={native} lake={framework}")
    if not any(Path(native_path).glob("*.parquet")):
        raise SystemExit("the native write produced no files")


if __name__ == "__main__":
    main()
