"""Delta encodings the lake writes: partition values, paths, statistics, schemas."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl.core.lake.encoding import (
    HIVE_NULL,
    STATS_STRING_PREFIX,
    decode_partition_value,
    delta_schema,
    encode_partition_value,
    file_path,
    file_stats,
    merge_schemas,
    parse_partition_dir,
    partition_dir,
    partition_matches,
)

UTC = dt.UTC


@pytest.mark.parametrize(
    ("value", "arrow_type", "text"),
    [
        ("eu-west", pa.string(), "eu-west"),
        (42, pa.int32(), "42"),
        (-7, pa.int64(), "-7"),
        (1.5, pa.float64(), "1.5"),
        (Decimal("12.30"), pa.decimal128(10, 2), "12.30"),
        (True, pa.bool_(), "true"),
        (dt.date(2024, 2, 29), pa.date32(), "2024-02-29"),
        (
            dt.datetime(2024, 1, 2, 3, 4, 5, 60, tzinfo=UTC),
            pa.timestamp("us", tz="UTC"),
            "2024-01-02 03:04:05.000060",
        ),
        (dt.datetime(2024, 1, 2, 3, 4, 5), pa.timestamp("us"), "2024-01-02 03:04:05.000000"),
    ],
)
def test_partition_values_round_trip(value: object, arrow_type: pa.DataType, text: str) -> None:
    assert encode_partition_value(value) == text
    assert decode_partition_value(text, arrow_type) == value


def test_timestamp_partitions_are_encoded_in_utc() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    moment = dt.datetime(2024, 1, 2, 5, 0, tzinfo=plus_two)
    assert encode_partition_value(moment) == "2024-01-02 03:00:00.000000"


def test_null_and_empty_partition_values_are_null() -> None:
    assert encode_partition_value(None) is None
    assert encode_partition_value("") is None
    assert decode_partition_value(None, pa.int32()) is None


def test_partition_dirs_escape_and_parse_back() -> None:
    values = {"region": "a b/c:d%", "day": None, "n": "1"}
    directory = partition_dir(values)
    assert directory == f"region=a%20b%2Fc%3Ad%25/day={HIVE_NULL}/n=1"
    assert parse_partition_dir(f"{directory}/part-0.parquet") == values


def test_log_paths_are_decoded_once() -> None:
    # The on-disk folder holds a hive-escaped value ("a b" -> "a%20b"); the log encodes "%".
    assert file_path("region=a%2520b/part-0.parquet") == "region=a%20b/part-0.parquet"


def test_partition_matches_compares_typed_values() -> None:
    values = {"day": dt.date(2024, 1, 1), "at": dt.datetime(2024, 1, 1, tzinfo=UTC), "r": None}
    assert partition_matches(values, {"day": dt.date(2024, 1, 1), "r": None})
    assert partition_matches(values, {"at": dt.datetime(2024, 1, 1)})
    assert not partition_matches(values, {"day": dt.date(2024, 1, 2)})


def test_schema_is_normalised_for_delta() -> None:
    spark_like = pa.schema(
        [
            pa.field("id", pa.int32(), nullable=False),
            pa.field("at", pa.timestamp("us", tz="Etc/UTC")),
            pa.field("name", pa.large_string()),
        ]
    )
    normalised = delta_schema(spark_like)
    assert normalised.field("at").type == pa.timestamp("us", tz="UTC")
    assert normalised.field("name").type == pa.string()
    assert all(field.nullable for field in normalised)


def test_merge_schemas_appends_new_columns_and_rejects_type_changes() -> None:
    current = pa.schema([("id", pa.int32()), ("name", pa.string())])
    merged = merge_schemas(current, pa.schema([("name", pa.string()), ("extra", pa.float64())]))
    assert merged.names == ["id", "name", "extra"]
    with pytest.raises(ValueError, match="'id'"):
        merge_schemas(current, pa.schema([("id", pa.string())]))


def _stats_of(table: pa.Table, tmp_path: Path, *, row_group_size: int | None = None) -> dict:
    path = tmp_path / "file.parquet"
    pq.write_table(table, path, row_group_size=row_group_size, store_decimal_as_integer=True)
    return json.loads(file_stats(pq.read_metadata(path), table.schema))


def test_file_stats_follow_the_delta_protocol(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([3, 1, None, 2], pa.int64()),
            "price": pa.array(
                [Decimal("1.50"), None, Decimal("-2.25"), None], pa.decimal128(10, 2)
            ),
            "at": pa.array(
                [dt.datetime(2024, 1, 1, 0, 0, 0, 999_999), None, None, dt.datetime(2023, 5, 5)],
                pa.timestamp("us", tz="UTC"),
            ),
            "day": pa.array([dt.date(2024, 1, 1), dt.date(2020, 1, 1), None, None]),
            "flag": pa.array([True, False, None, True]),
            "name": pa.array(["b", "a", None, "c" * (STATS_STRING_PREFIX + 5)]),
        }
    )
    stats = _stats_of(table, tmp_path, row_group_size=2)
    assert stats["numRecords"] == 4
    assert stats["minValues"] == {
        "id": 1,
        "price": -2.25,
        "at": "2023-05-05T00:00:00.000Z",
        "day": "2020-01-01",
        "name": "a",
    }
    # The maximum timestamp is truncated to milliseconds; the long string maximum is omitted.
    assert stats["maxValues"] == {
        "id": 3,
        "price": 1.5,
        "at": "2024-01-01T00:00:00.999Z",
        "day": "2024-01-01",
    }
    assert stats["nullCount"] == {"id": 1, "price": 2, "at": 2, "day": 2, "flag": 1, "name": 1}


def test_file_stats_cover_only_the_given_columns(tmp_path: Path) -> None:
    table = pa.table({"id": [1, 2], "nested": [{"a": 1}, {"a": 2}]})
    stats = _stats_of(table, tmp_path)
    assert stats["minValues"] == {"id": 1}
    assert "nested" not in stats["nullCount"]


def test_file_stats_of_an_all_null_column_have_no_bounds(tmp_path: Path) -> None:
    table = pa.table({"id": pa.array([None, None], pa.int32())})
    stats = _stats_of(table, tmp_path)
    assert stats["minValues"] == {}
    assert stats["nullCount"] == {"id": 2}
