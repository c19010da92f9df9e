"""Scan planning of the Python reader: exact partition pruning, statistics skipping, packing."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pyarrow as pa
from pyspark.sql.types import DateType, LongType, StringType, StructField, StructType

from etl.core.lake.scan import OPEN_COST_BYTES, LakeInputPartition, LakeReader, rows_above
from etl.core.lake.snapshot import Snapshot, SnapshotFile
from etl.core.lake.storage import Storage

SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("name", StringType()),
        StructField("day", DateType()),
    ]
)


def _file(index: int, day: dt.date | None, low: int, high: int, size: int = 1000) -> SnapshotFile:
    return SnapshotFile(
        path=f"day={day}/part-{index}.parquet",
        size=size,
        partition={"day": day},
        min_values={"id": low},
        max_values={"id": high},
    )


FILES = (
    _file(0, dt.date(2024, 1, 1), 0, 9),
    _file(1, dt.date(2024, 1, 2), 10, 19),
    _file(2, dt.date(2024, 1, 3), 20, 29),
    _file(3, None, 30, 39),
)


def _reader(files: tuple[SnapshotFile, ...] = FILES, min_partitions: int = 2) -> LakeReader:
    snapshot = Snapshot(
        version=0,
        schema=pa.schema([("id", pa.int64()), ("name", pa.string()), ("day", pa.date32())]),
        partition_by=("day",),
        files=files,
    )
    return LakeReader(
        uri="file:///nowhere",
        storage=Storage(),
        snapshot=snapshot,
        schema=SCHEMA,
        min_partitions=min_partitions,
    )


def _batch_file(name: str, low: int | None, high: int | None, rows: int | None) -> SnapshotFile:
    bounds = {} if low is None else {"batch": low}
    return SnapshotFile(
        path=name,
        size=1000,
        partition={},
        min_values=bounds,
        max_values={} if high is None else {"batch": high},
        rows=rows,
    )


def test_rows_above_a_value_count_every_file_that_may_hold_one() -> None:
    """An upper bound from statistics alone: a file mixing batches, or one without bounds,
    counts whole; a file whose rows are not counted leaves the answer unknown."""
    files = (
        _batch_file("snapshot-a", 4, 4, 10),
        _batch_file("snapshot-b", 4, 4, 10),
        _batch_file("later", 5, 5, 3),
        _batch_file("compacted", 4, 6, 7),
        _batch_file("no-bounds", None, None, 2),
    )
    snapshot = Snapshot(
        version=3, schema=pa.schema([("batch", pa.int64())]), partition_by=(), files=files
    )

    assert rows_above(snapshot, "batch", 4) == 3 + 7 + 2
    assert rows_above(snapshot, "batch", 6) == 2
    uncounted = replace(snapshot, files=(*files, _batch_file("uncounted", 5, 5, None)))
    assert rows_above(uncounted, "batch", 4) is None
    assert rows_above(uncounted, "batch", 6) == 2


def test_small_files_are_packed_into_few_partitions() -> None:
    many = tuple(_file(i, dt.date(2024, 1, 1), 0, 1, size=10) for i in range(100))
    partitions = _reader(many, min_partitions=2).partitions()
    assert 2 <= len(partitions) <= 4  # each file costs at least `OPEN_COST_BYTES`
    assert sum(len(p.files) for p in partitions if isinstance(p, LakeInputPartition)) == 100


def test_large_files_get_their_own_partitions() -> None:
    big = tuple(_file(i, dt.date(2024, 1, 1), 0, 1, size=64 * OPEN_COST_BYTES) for i in range(4))
    assert len(_reader(big).partitions()) == 4


def test_an_empty_snapshot_plans_one_empty_partition() -> None:
    partitions = _reader(()).partitions()
    assert [p.files for p in partitions if isinstance(p, LakeInputPartition)] == [()]
