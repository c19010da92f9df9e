"""The Python Parquet writer's files: row groups, encodings, and what it leaves on failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl.core.lake.commit import WritePlan
from etl.core.lake.storage import Storage
from etl.core.lake.write import dictionary_columns, write_files

ROWS = 40_000


def _table() -> pa.Table:
    return pa.table(
        {
            "order_id": pa.array(range(ROWS), pa.int64()),
            "status": pa.array(["new", "paid", "sent", None] * (ROWS // 4)),
            "category_names": pa.array([["books", "toys"]] * ROWS),
            "shipping": pa.array([{"city": "Lyon", "zones": [1, 2]}] * ROWS),
            "tags": pa.array([[("colour", "red")]] * ROWS, pa.map_(pa.string(), pa.string())),
        }
    )


def _encodings(path: Path) -> dict[str, tuple[str, ...]]:
    metadata = pq.ParquetFile(path).metadata
    return {
        metadata.schema.column(index).path: metadata.row_group(0).column(index).encodings
        for index in range(metadata.num_columns)
    }


def test_only_repeating_columns_get_a_dictionary() -> None:
    chosen = dictionary_columns(_table())

    assert "status" in chosen
    assert "order_id" not in chosen, "a key column's dictionary would be abandoned unused"


def test_nested_columns_are_named_by_their_leaves(tmp_path: Path) -> None:
    table = _table()
    path = tmp_path / "nested.parquet"

    pq.write_table(table, path, use_dictionary=dictionary_columns(table))

    encodings = _encodings(path)
    for leaf in (
        "category_names.list.element",
        "shipping.city",
        "shipping.zones.list.element",
        "tags.key_value.key",
        "tags.key_value.value",
    ):
        assert "RLE_DICTIONARY" in encodings[leaf], leaf


def _plan(uri: str, schema: pa.Schema) -> WritePlan:
    return WritePlan(uri=uri, mode="append", table_format="delta", schema=schema, partition_by=())


def test_local_files_carry_the_chosen_encodings_and_spark_codec(tmp_path: Path) -> None:
    table = _table()

    (written,) = write_files(
        iter(table.to_batches(max_chunksize=4096)),
        _plan(tmp_path.as_uri(), table.schema),
        Storage(),
        prefix="part-00000",
    )

    encodings = _encodings(tmp_path / written.path)
    assert written.rows == ROWS
    assert "RLE_DICTIONARY" in encodings["status"]
    assert "RLE_DICTIONARY" not in encodings["order_id"]
    assert pq.read_table(tmp_path / written.path).equals(table)
    assert pq.ParquetFile(tmp_path / written.path).metadata.row_group(0).column(0).compression == (
        "SNAPPY"
    ), "on local disk the codec of Spark's own writer, whose files share the table"


def test_an_empty_input_writes_a_readable_empty_file(tmp_path: Path) -> None:
    schema = _table().schema

    (written,) = write_files(
        iter([pa.RecordBatch.from_pylist([], schema=schema)]),
        _plan(tmp_path.as_uri(), schema),
        Storage(),
        prefix="part-00000",
    )

    assert written.rows == 0
    assert pq.read_table(tmp_path / written.path).schema.equals(schema)


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    table = _table()

    def failing() -> Iterator[pa.RecordBatch]:
        yield from table.to_batches(max_chunksize=4096)[:3]
        raise RuntimeError("the task was killed")

    with pytest.raises(RuntimeError, match="killed"):
        write_files(failing(), _plan(tmp_path.as_uri(), table.schema), Storage(), prefix="p")

    assert not list(tmp_path.rglob("*.parquet"))


def test_a_file_that_reaches_the_plans_rows_is_closed_and_another_begun(tmp_path: Path) -> None:
    table = _table()
    plan = WritePlan(
        uri=tmp_path.as_uri(),
        mode="append",
        table_format="delta",
        schema=table.schema,
        partition_by=(),
        file_rows=15_000,
    )

    written = write_files(
        iter(table.to_batches(max_chunksize=4_000)), plan, Storage(), prefix="part-00000"
    )

    assert [file.rows for file in written] == [15_000, 15_000, 10_000]
    assert len({file.path for file in written}) == 3
    back = pa.concat_tables(pq.read_table(tmp_path / file.path) for file in written)
    assert back.equals(table)
