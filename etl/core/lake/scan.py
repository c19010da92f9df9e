"""Reading a snapshot through Python: input partitions, Arrow batches, and the file
statistics that planning asks about (`partitions_holding`, `rows_above`).

Spark's native Parquet reader is faster and is used where it can reach the files (a local
warehouse, see `Lake.read`); this path serves S3, catalog tables and ad-hoc
`spark.read.format("rainforest_delta")` reads.

The reader takes no filters: Spark 4.3 plans the files of a Python data source's read once,
with the last filters pushed to it, and uses that plan for every scan of the read, so a
union or self-join of one read with different filters would read one scan's files for both.
Spark applies every filter to the rows; partitions are chosen before the read instead
(`Lake.read(partition_values=...)` or `partitions=` hands the source a snapshot of their
files alone).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql.datasource import (
    DataSourceReader,
    EqualTo,
    Filter,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    InputPartition,
    LessThan,
    LessThanOrEqual,
)
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

from etl.core.lake.encoding import comparable
from etl.core.lake.snapshot import Snapshot, SnapshotFile, distinct_partitions
from etl.core.lake.storage import Storage

OPEN_COST_BYTES = 4 * 1024 * 1024
"""What opening a file costs in bytes read, as Spark's `spark.sql.files.openCostInBytes`."""
MAX_PARTITION_BYTES = 128 * 1024 * 1024
"""Largest input partition, as Spark's `spark.sql.files.maxPartitionBytes`."""
BATCH_ROWS = 65_536

# Delta truncates timestamp statistics to milliseconds, so a maximum may be up to 1 ms low.
_STATS_TIMESTAMP_SLACK = dt.timedelta(milliseconds=1)
_COMPARISONS = (EqualTo, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual)


@dataclass(frozen=True)
class LakeInputPartition(InputPartition):
    """The files one read task scans."""

    files: tuple[SnapshotFile, ...]


class LakeReader(DataSourceReader):
    """Plans input partitions from a snapshot's file list and reads them with pyarrow."""

    def __init__(
        self,
        *,
        uri: str,
        storage: Storage,
        snapshot: Snapshot,
        schema: StructType,
        min_partitions: int,
    ) -> None:
        self._uri = uri
        self._storage = storage
        self._partition_by = snapshot.partition_by
        self._files = snapshot.files
        self._schema = to_arrow_schema(schema, timezone="UTC")
        self._min_partitions = max(min_partitions, 1)

    def partitions(self) -> Sequence[InputPartition]:
        """Pack files into about `min_partitions` tasks or more, as Spark packs file splits."""
        files = sorted(self._files, key=lambda f: f.size, reverse=True)
        total = sum(f.size + OPEN_COST_BYTES for f in files)
        target = min(MAX_PARTITION_BYTES, max(OPEN_COST_BYTES, total // self._min_partitions))
        packed: list[LakeInputPartition] = []
        current: list[SnapshotFile] = []
        current_bytes = 0
        for file in files:
            cost = file.size + OPEN_COST_BYTES
            if current and current_bytes + cost > target:
                packed.append(LakeInputPartition(tuple(current)))
                current, current_bytes = [], 0
            current.append(file)
            current_bytes += cost
        if current or not packed:
            packed.append(LakeInputPartition(tuple(current)))
        return packed

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        assert isinstance(partition, LakeInputPartition)
        filesystem, root = self._storage.filesystem(self._uri)
        data_names = [name for name in self._schema.names if name not in self._partition_by]
        for file in partition.files:
            with filesystem.open_input_file(f"{root}/{file.path}") as source:
                parquet = pq.ParquetFile(source, pre_buffer=True)
                stored = set(parquet.schema_arrow.names)
                columns = [name for name in data_names if name in stored]
                if columns:
                    batches: Iterator[pa.RecordBatch] = parquet.iter_batches(
                        batch_size=BATCH_ROWS, columns=columns, use_threads=False
                    )
                else:
                    batches = _row_counts(parquet.metadata.num_rows)
                for batch in batches:
                    yield _conform(batch, self._schema, file.partition)


def _keep_partition_matches(
    files: Sequence[SnapshotFile], pushed: In
) -> tuple[SnapshotFile, ...] | None:
    """Files whose partition value is in `pushed` (a null is in no list, as in SQL); None if
    the values cannot be compared exactly here."""
    try:
        return tuple(f for f in files if _is_in(pushed, f.partition))
    except TypeError:
        return None


def _is_in(pushed: In, values: Mapping[str, object]) -> bool:
    value = comparable(values.get(pushed.attribute[0]))
    if value is None:
        return False
    if any(item is not None and _kind(value) != _kind(item) for item in pushed.value):
        # Python answers `date == "x"` with False; pruning on that would drop rows.
        raise TypeError(f"cannot compare {value!r} with {pushed.value!r}")
    return value in {comparable(item) for item in pushed.value}


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, dt.datetime):
        return "timestamp"
    return type(value).__name__


def partitions_holding(
    snapshot: Snapshot, column: str, values: Sequence[object]
) -> list[dict[str, object]]:
    """The partitions with a file that may hold a row whose `column` is one of `values`.

    Decided as a scan filtered to those values skips files: on partition values, or on each
    file's minimum and maximum in the log, without reading a file. A superset of the
    partitions that hold such rows.
    """
    pushed = In((column,), tuple(values))
    files: Sequence[SnapshotFile] | None = None
    if column in snapshot.partition_by:
        files = _keep_partition_matches(snapshot.files, pushed)
    if files is None:
        may_match = _statistics_test(pushed)
        files = [file for file in snapshot.files if may_match(file)]
    return distinct_partitions(
        {name: file.partition.get(name) for name in snapshot.partition_by} for file in files
    )


def rows_above(snapshot: Snapshot, column: str, value: object) -> int | None:
    """Rows of the files that may hold a row whose `column` is above `value`, from the log's
    file statistics alone (never fewer than there are); None when a file's count is unknown."""
    may_match = _statistics_test(GreaterThan((column,), value))
    counts = [file.rows for file in snapshot.files if may_match(file)]
    return None if None in counts else sum(count or 0 for count in counts)


def _statistics_test(pushed: Filter) -> Callable[[SnapshotFile], bool]:
    """A test that is False only when a file's min/max statistics prove no row satisfies
    `pushed`. An `In` list is sorted once: each file then costs a binary search, not a
    comparison per value (a replacing build asks about tens of thousands of keys)."""
    attribute = getattr(pushed, "attribute", ())
    if len(attribute) != 1:
        return _may_hold_anything
    if isinstance(pushed, In):
        return _within_any(attribute[0], pushed.value)
    if isinstance(pushed, _COMPARISONS):
        return lambda file: _may_match(pushed, file)
    return _may_hold_anything


def _may_hold_anything(file: SnapshotFile) -> bool:
    return True


def _within_any(column: str, values: Sequence[object]) -> Callable[[SnapshotFile], bool]:
    """A test of whether any of `values` lies within a file's bounds of `column`."""
    wanted = [comparable(value) for value in values]
    if any(value is None for value in wanted):
        return _may_hold_anything
    try:
        wanted.sort()  # type: ignore[call-overload]
    except TypeError:
        return _may_hold_anything

    def test(file: SnapshotFile) -> bool:
        low, high = _bounds(file, column)
        try:
            first = 0 if low is None else bisect.bisect_left(wanted, low)
            return first < len(wanted) and (high is None or wanted[first] <= high)  # type: ignore[operator]
        except TypeError:
            return True

    return test


def _bounds(file: SnapshotFile, column: str) -> tuple[Any, Any]:
    """A file's minimum and maximum of `column` (None where unknown), widened by what the
    statistics may have cut off."""
    low = comparable(file.min_values.get(column))
    high = comparable(file.max_values.get(column))
    if isinstance(high, dt.datetime):
        high += _STATS_TIMESTAMP_SLACK
    return low, high


def _may_match(pushed: Filter, file: SnapshotFile) -> bool:
    """False only when the file's min/max statistics prove no row satisfies the comparison."""
    low, high = _bounds(file, pushed.attribute[0])
    try:
        return _in_range(pushed, comparable(pushed.value), low, high)
    except TypeError:
        return True


def _in_range(pushed: Filter, value: object, low: object, high: object) -> bool:
    if value is None:
        return True
    if isinstance(pushed, EqualTo):
        return (low is None or low <= value) and (high is None or value <= high)  # type: ignore[operator]
    if isinstance(pushed, GreaterThan):
        return high is None or high > value  # type: ignore[operator]
    if isinstance(pushed, GreaterThanOrEqual):
        return high is None or high >= value  # type: ignore[operator]
    if isinstance(pushed, LessThan):
        return low is None or low < value  # type: ignore[operator]
    return low is None or low <= value  # type: ignore[operator]


def _row_counts(rows: int) -> Iterator[pa.RecordBatch]:
    """Empty-column batches carrying only row counts, for scans that need no stored column."""
    for start in range(0, rows, BATCH_ROWS):
        yield pa.record_batch([pa.nulls(min(BATCH_ROWS, rows - start))], names=["_"]).select([])


def _conform(
    batch: pa.RecordBatch, schema: pa.Schema, partition: Mapping[str, object]
) -> pa.RecordBatch:
    """`batch` in exactly the declared schema: partition columns as constants, columns the
    file predates as nulls, types cast where a file stores a narrower or zoned variant."""
    rows = batch.num_rows
    names = set(batch.schema.names)
    arrays = []
    for field in schema:
        if field.name in names:
            array = batch.column(field.name)
            if not array.type.equals(field.type):
                array = array.cast(field.type)
        elif field.name in partition and partition[field.name] is not None:
            constant = pa.array([partition[field.name]], type=field.type)
            array = constant.take(np.zeros(rows, dtype=np.int32))
        else:
            array = pa.nulls(rows, type=field.type)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
