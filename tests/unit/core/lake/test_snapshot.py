"""Which partitions may hold given values, and which files a partition has: from the log alone."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from etl.core.lake.scan import partitions_holding
from etl.core.lake.snapshot import Snapshot, SnapshotFile, distinct_partitions

DAY_1, DAY_2, DAY_3 = dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)


def _file(day: dt.date, low: int | None, high: int | None) -> SnapshotFile:
    bounds = {"id": low} if low is not None else {}
    upper = {"id": high} if high is not None else {}
    return SnapshotFile(
        path=f"day={day}/part-{low}.parquet",
        size=1000,
        partition={"day": day},
        min_values=bounds,
        max_values=upper,
    )


def _snapshot(*files: SnapshotFile) -> Snapshot:
    schema = pa.schema([("id", pa.int64()), ("day", pa.date32())])
    return Snapshot(version=3, schema=schema, partition_by=("day",), files=files)


SNAPSHOT = _snapshot(_file(DAY_1, 0, 9), _file(DAY_2, 10, 19), _file(DAY_3, 20, 29))


def test_only_partitions_whose_range_covers_a_value_are_chosen() -> None:
    assert partitions_holding(SNAPSHOT, "id", [15, 3]) == [{"day": DAY_1}, {"day": DAY_2}]


def test_range_bounds_are_inclusive() -> None:
    assert partitions_holding(SNAPSHOT, "id", [19, 20]) == [{"day": DAY_2}, {"day": DAY_3}]


def test_values_outside_every_range_choose_nothing() -> None:
    assert partitions_holding(SNAPSHOT, "id", [30, -1]) == []


def test_a_value_between_bounds_but_absent_still_chooses_the_file() -> None:
    """Bounds give a superset: a file from 0 to 9 may hold 5 even if it does not."""
    snapshot = _snapshot(_file(DAY_1, 0, 4), _file(DAY_2, 0, 9))
    assert partitions_holding(snapshot, "id", [5]) == [{"day": DAY_2}]


def test_a_file_without_both_bounds_may_hold_anything() -> None:
    snapshot = _snapshot(_file(DAY_1, 0, 9), _file(DAY_2, 10, None), _file(DAY_3, None, None))
    assert partitions_holding(snapshot, "id", [100]) == [{"day": DAY_2}, {"day": DAY_3}]


def test_a_null_value_chooses_every_partition() -> None:
    assert len(partitions_holding(SNAPSHOT, "id", [None])) == 3


def test_a_partition_column_is_matched_on_the_file_partition() -> None:
    assert partitions_holding(SNAPSHOT, "day", [DAY_3]) == [{"day": DAY_3}]


def test_a_partition_with_several_matching_files_is_listed_once() -> None:
    snapshot = _snapshot(_file(DAY_1, 0, 9), _file(DAY_1, 10, 19))
    assert partitions_holding(snapshot, "id", [5, 15]) == [{"day": DAY_1}]


def test_distinct_partitions_compare_naive_and_utc_timestamps_as_equal() -> None:
    naive = dt.datetime(2024, 1, 1, 12)
    aware = naive.replace(tzinfo=dt.UTC)
    assert distinct_partitions([{"ts": naive}, {"ts": aware}]) == [{"ts": naive}]


def test_a_snapshot_within_partitions_keeps_their_files_and_the_version() -> None:
    second = _file(DAY_2, 30, 39)
    snapshot = _snapshot(_file(DAY_1, 0, 9), _file(DAY_2, 10, 19), second, _file(DAY_3, 20, 29))
    chosen = snapshot.within([{"day": DAY_2}, {"day": DAY_3}, {"day": dt.date(2030, 1, 1)}])
    assert [file.path for file in chosen.files] == [
        "day=2024-01-02/part-10.parquet",
        second.path,
        "day=2024-01-03/part-20.parquet",
    ]
    assert (chosen.version, chosen.schema) == (snapshot.version, snapshot.schema)
    assert snapshot.within([{}]).files == snapshot.files
    assert snapshot.within([]).files == ()
