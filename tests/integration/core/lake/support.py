"""Frames and comparisons shared by the lake's integration tests (this module has no tests)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path

from deltalake import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType

FORMAT = "rainforest_delta"
SCHEMA = (
    "order_id int, quantity long, customer_name string, score double, "
    "amount_usd decimal(10,2), ordered_at timestamp, order_date date, is_paid boolean, "
    "region string"
)
UTC = dt.UTC
ROWS = [
    (
        1,
        10_000_000_000,
        "alpha",
        1.5,
        Decimal("12.34"),
        dt.datetime(2024, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC),
        dt.date(2024, 1, 2),
        True,
        "eu",
    ),
    (2, -5, None, None, None, None, None, None, "us"),
    (
        3,
        0,
        "gamma ray: 100%",
        -0.25,
        Decimal("-0.01"),
        dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
        dt.date(1999, 12, 31),
        False,
        "eu",
    ),
    (4, 7, "delta", 2.0, Decimal("99999999.99"), None, dt.date(2024, 6, 1), True, None),
]


def typed_frame(spark: SparkSession, rows: Iterable[tuple[object, ...]] = ROWS) -> DataFrame:
    return spark.createDataFrame(list(rows), SCHEMA)


def _fail_on_three(order_id):  # type: ignore[no-untyped-def]  # hints: pyspark warns on UDFs
    if order_id == 3:
        raise ValueError("order 3 is poisoned")
    return order_id


def poisoned(spark: SparkSession) -> DataFrame:
    """Rows spread over several tasks, one of which raises while the others write files."""
    order_id: Column = F.udf(_fail_on_three, IntegerType())(F.col("order_id"))
    return typed_frame(spark, ROWS * 50).repartition(4).withColumn("order_id", order_id)


def normalised(rows: Iterable[Mapping[str, object]]) -> list[tuple[tuple[str, object], ...]]:
    """Rows as sorted, comparable tuples: timestamps become epoch microseconds, whichever
    time zone (or none) the reader attached."""

    def value(item: object) -> object:
        if isinstance(item, dt.datetime):
            return round(item.timestamp() * 1_000_000)
        return item

    return sorted(
        (tuple(sorted((key, value(item)) for key, item in row.items())) for row in rows),
        key=repr,
    )


def spark_rows(df: DataFrame) -> list[tuple[tuple[str, object], ...]]:
    return normalised(row.asDict() for row in df.collect())


def delta_rows(uri: str, **storage: str) -> list[tuple[tuple[str, object], ...]]:
    return normalised(
        DeltaTable(uri, storage_options=storage or None).to_pyarrow_table().to_pylist()
    )


def expected_rows(
    rows: Iterable[tuple[object, ...]] = ROWS,
) -> list[tuple[tuple[str, object], ...]]:
    names = [part.split()[0] for part in SCHEMA.split(", ")]
    return normalised(dict(zip(names, row, strict=True)) for row in rows)


def data_files(table_folder: Path) -> set[str]:
    """Every Parquet file under the table folder, outside the log."""
    return {
        path.relative_to(table_folder).as_posix()
        for path in table_folder.rglob("*.parquet")
        if "_delta_log" not in path.parts
    }


def live_files(uri: str) -> set[str]:
    """The files the table's current snapshot references, relative to the table folder."""
    root = uri.removeprefix("file://")
    return {path.removeprefix(root + "/") for path in DeltaTable(uri).file_uris()}
