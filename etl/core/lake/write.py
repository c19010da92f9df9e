"""Writing through Python: executors write Parquet files with pyarrow, the driver commits them.

The files go straight to the table's storage; nothing is visible to readers until `commit`
adds them to the log in one transaction, and `abort` (or the task itself, when it fails)
deletes them, so a failed write leaves the previous version as it was.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import fs
from pyspark import TaskContext
from pyspark.sql.datasource import DataSourceArrowWriter, WriterCommitMessage

from etl.core.lake.commit import DataFile, WritePlan, commit, discard
from etl.core.lake.encoding import encode_partition_value, file_stats, partition_dir
from etl.core.lake.storage import Storage

ROW_GROUP_ROWS = 1_048_576
"""Rows buffered per Parquet row group: Spark hands over 64k-row batches, and a row group per
batch would mean small pages, weak dictionaries and a bloated footer."""

PARQUET_OPTIONS: dict[str, object] = {
    "store_decimal_as_integer": True,  # INT32/INT64 decimals, as Spark writes them
    "write_page_index": False,
}
LOCAL_COMPRESSION: dict[str, object] = {"compression": "snappy"}
"""Spark's default: a local table also holds files of Spark's own writer."""
OBJECT_STORE_COMPRESSION: dict[str, object] = {"compression": "zstd", "compression_level": 1}
"""On object storage every byte crosses the network, is hashed by the server and is billed:
zstd level 1 made the benchmark's files 29% smaller than snappy for 35% more encoding time,
and reads as fast (Iceberg's default codec for the same reasons)."""

DICTIONARY_SAMPLE_ROWS = 16_384
"""Rows sampled from a file's first row group to choose its dictionary columns..."""
DICTIONARY_SAMPLE_SLICES = 8
"""...in this many runs of rows spread over it, so that sorted data shows its range."""
DICTIONARY_MAX_DISTINCT_SHARE = 0.5
"""A sampled column with more distinct values than this share of the sample is written plain.

Such a column has tens of thousands of distinct values per row group: its dictionary would
outgrow the writer's 1 MB page limit and be abandoned after it was built (costing 40% of the
encoding time on the benchmark's columns), or would save little. Spark's writer ended with the
same encodings on those columns."""


@dataclass(frozen=True)
class FilesWritten(WriterCommitMessage):
    """What one task wrote."""

    files: tuple[DataFile, ...]


def save_receipt(path: str, files: Sequence[DataFile]) -> None:
    """List the files written, for the process that asked for them to commit them."""
    Path(path).write_text(json.dumps([asdict(file) for file in files]))


def load_receipt(path: str) -> list[DataFile]:
    return [DataFile(**file) for file in json.loads(Path(path).read_text())]


class LakeWriter(DataSourceArrowWriter):
    def __init__(self, *, plan: WritePlan, storage: Storage, receipt: str | None) -> None:
        self._plan = plan
        self._storage = storage
        self._receipt = receipt
        self._write_id = uuid.uuid4().hex[:12]

    def write(self, iterator: Iterator[pa.RecordBatch]) -> FilesWritten:
        context = TaskContext.get()
        task = context.partitionId() if context is not None else 0
        attempt = context.attemptNumber() if context is not None else 0
        prefix = f"part-{task:05d}-{self._write_id}-{attempt}"
        return FilesWritten(write_files(iterator, self._plan, self._storage, prefix=prefix))

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:
        """Commit the files every task wrote; with a receipt, hand them to its reader instead."""
        files = _files(messages)
        if self._receipt:
            save_receipt(self._receipt, files)
            return
        try:
            commit(self._plan, self._storage, files)
        except BaseException:
            discard(self._plan.uri, self._storage, [f.path for f in files])
            raise

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:
        discard(self._plan.uri, self._storage, [f.path for f in _files(messages)])


def _files(messages: list[WriterCommitMessage | None]) -> list[DataFile]:
    return [file for m in messages if isinstance(m, FilesWritten) for file in m.files]


def write_files(
    batches: Iterator[pa.RecordBatch], plan: WritePlan, storage: Storage, *, prefix: str
) -> tuple[DataFile, ...]:
    """Write `batches` as one file per partition value, or more when a file reaches the plan's
    `file_rows`; on failure, delete what was written."""
    filesystem, root = storage.filesystem(plan.uri)
    target = plan.schema
    data_schema = plan.data_schema
    open_files: dict[tuple[str | None, ...], _OpenFile] = {}
    closed: list[DataFile] = []
    opened = 0
    try:
        for batch in batches:
            if not batch.schema.equals(target):
                batch = _conform(batch, target)
            for values, rows in _split(batch, plan.partition_by, data_schema.names):
                key = tuple(values.values())
                for part in _pieces(rows, plan.file_rows, open_files.get(key)):
                    if key not in open_files:
                        directory = partition_dir(values)
                        name = f"{prefix}-{opened:05d}.snappy.parquet"
                        opened += 1
                        path = f"{directory}/{name}" if directory else name
                        open_files[key] = _OpenFile(filesystem, root, path, values, data_schema)
                    open_files[key].add(part)
                    if plan.file_rows is not None and open_files[key].rows >= plan.file_rows:
                        closed.append(open_files.pop(key).close())
        return (*closed, *(handle.close() for handle in open_files.values()))
    except BaseException:
        for handle in open_files.values():
            handle.close_quietly()
        written = [file.path for file in closed] + [h.path for h in open_files.values()]
        discard(plan.uri, storage, written)
        raise


def _pieces(
    rows: pa.RecordBatch, file_rows: int | None, current: _OpenFile | None
) -> Iterator[pa.RecordBatch]:
    """`rows` cut where files reach `file_rows`: first what fits in the `current` file."""
    if file_rows is None or rows.num_rows == 0:
        yield rows
        return
    room = file_rows - (current.rows if current is not None else 0)
    start = 0
    while start < rows.num_rows:
        yield rows.slice(start, room)
        start += room
        room = file_rows


def _conform(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """`batch` in the plan's schema: Spark's batches differ in nullability (a metadata-only
    change) and may carry "Etc/UTC" timestamps (a cast)."""
    columns = [
        column if column.type.equals(field.type) else column.cast(field.type)
        for column, field in zip(batch.columns, target, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, schema=target)


def _split(
    batch: pa.RecordBatch, partition_by: tuple[str, ...], data_names: list[str]
) -> Iterator[tuple[dict[str, str | None], pa.RecordBatch]]:
    """The batch's rows grouped by partition value, as (encoded values, data columns) pairs.

    Vectorised: partition columns are dictionary-encoded into one integer code per row, so a
    batch costs a sort of integers, not Python work per row.
    """
    data = batch.select(data_names)
    if not partition_by:
        yield {}, data
        return
    if batch.num_rows == 0:
        return
    codes = np.zeros(batch.num_rows, dtype=np.int64)
    for name in partition_by:
        encoded = pc.dictionary_encode(batch.column(name), null_encoding="encode")
        indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        codes = codes * len(encoded.dictionary) + indices
    if (codes == codes[0]).all():
        yield _partition_values(batch, partition_by, 0), data
        return
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate(([0], np.flatnonzero(np.diff(codes[order])) + 1, [len(order)]))
    for start, end in itertools.pairwise(starts):
        rows = order[start:end]
        yield _partition_values(batch, partition_by, int(rows[0])), data.take(pa.array(rows))


def _partition_values(
    batch: pa.RecordBatch, partition_by: tuple[str, ...], row: int
) -> dict[str, str | None]:
    return {name: encode_partition_value(batch.column(name)[row].as_py()) for name in partition_by}


class _OpenFile:
    """One data file being written: batches are buffered into large row groups."""

    def __init__(
        self,
        filesystem: fs.FileSystem,
        root: str,
        path: str,
        partition_values: dict[str, str | None],
        schema: pa.Schema,
    ) -> None:
        self.path = path
        self._partition_values = partition_values
        self._schema = schema
        full_path = f"{root}/{path}"
        if isinstance(filesystem, fs.LocalFileSystem):
            # Object stores have no directories; a local folder must exist before its files.
            filesystem.create_dir(full_path.rsplit("/", 1)[0], recursive=True)
        self._sink = filesystem.open_output_stream(full_path)
        self._compression = (
            LOCAL_COMPRESSION
            if isinstance(filesystem, fs.LocalFileSystem)
            else OBJECT_STORE_COMPRESSION
        )
        self._writer: pq.ParquetWriter | None = None
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self._buffer.append(batch)
        self._buffered_rows += batch.num_rows
        self.rows += batch.num_rows
        if self._buffered_rows >= ROW_GROUP_ROWS:
            self._flush()

    def close(self) -> DataFile:
        self._flush()
        writer = self._writer or self._open_writer(self._schema.empty_table())
        writer.close()
        size = self._sink.tell()
        self._sink.close()
        metadata = writer.writer.metadata
        return DataFile(
            path=self.path,
            size=size,
            rows=metadata.num_rows,
            partition_values=self._partition_values,
            stats=file_stats(metadata, self._schema),
        )

    def close_quietly(self) -> None:
        closers = (
            [self._sink.close] if self._writer is None else [self._writer.close, self._sink.close]
        )
        for close in closers:
            try:
                close()
            except Exception:  # the write already failed; its error is the one to report
                continue

    def _flush(self) -> None:
        if self._buffer:
            table = pa.Table.from_batches(self._buffer, schema=self._schema)
            writer = self._writer or self._open_writer(table)
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
            self._buffer, self._buffered_rows = [], 0

    def _open_writer(self, first_row_group: pa.Table) -> pq.ParquetWriter:
        self._writer = pq.ParquetWriter(
            self._sink,
            self._schema,
            use_dictionary=dictionary_columns(first_row_group),
            **self._compression,
            **PARQUET_OPTIONS,
        )
        return self._writer


def dictionary_columns(table: pa.Table) -> list[str]:
    """The Parquet column paths worth dictionary-encoding, judged on a sample of `table`.

    Nested columns keep their dictionaries: their leaves are judged by the Parquet writer.
    """
    sample = table
    if table.num_rows > DICTIONARY_SAMPLE_ROWS:
        stride = table.num_rows // DICTIONARY_SAMPLE_SLICES
        slice_rows = DICTIONARY_SAMPLE_ROWS // DICTIONARY_SAMPLE_SLICES
        sample = pa.concat_tables(  # zero-copy slices: `take` on a buffered row group cost more
            table.slice(stride * index, slice_rows) for index in range(DICTIONARY_SAMPLE_SLICES)
        )
    chosen: list[str] = []
    for field, column in zip(sample.schema, sample.columns, strict=True):
        if pa.types.is_nested(field.type):
            chosen.extend(_leaf_paths(field.name, field.type))
        elif pc.count_distinct(column, mode="all").as_py() <= (
            DICTIONARY_MAX_DISTINCT_SHARE * max(sample.num_rows, 1)
        ):
            chosen.append(field.name)
    return chosen


def _leaf_paths(path: str, data_type: pa.DataType) -> list[str]:
    """Parquet's dotted paths of a column's leaves, as pyarrow names them (compliant lists)."""
    if pa.types.is_struct(data_type):
        return [
            leaf
            for index in range(data_type.num_fields)
            for leaf in _leaf_paths(
                f"{path}.{data_type.field(index).name}", data_type.field(index).type
            )
        ]
    if pa.types.is_map(data_type):
        return [
            *_leaf_paths(f"{path}.key_value.key", data_type.key_type),
            *_leaf_paths(f"{path}.key_value.value", data_type.item_type),
        ]
    if (
        pa.types.is_list(data_type)
        or pa.types.is_large_list(data_type)
        or pa.types.is_fixed_size_list(data_type)
    ):
        return _leaf_paths(f"{path}.list.element", data_type.value_type)
    return [path]
