"""The one commit every write ends in, and the checks a write passes before any file is written.

Whoever wrote the data files (pyarrow on executors, or Spark's own Parquet writer on a local
warehouse), they are described as `DataFile`s and committed here, so that Delta semantics
(modes, schema merge, partition replacement) live in one place.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa
from deltalake import DeltaTable, Transaction
from deltalake import Field as DeltaField
from deltalake import Schema as DeltaSchema
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    RemoveAction,
    create_table_with_add_actions,
)

from etl.core.errors import LakeWriteError, RainforestError
from etl.core.lake.encoding import (
    comparable,
    decode_partition_value,
    delta_schema,
    encode_partition_value,
    file_path,
    merge_schemas,
    partition_dir,
)
from etl.core.lake.snapshot import (
    Snapshot,
    SnapshotFile,
    TableFormat,
    open_delta,
    parquet_files,
    relative_parts,
)
from etl.core.lake.storage import Storage

WriteMode = Literal["overwrite", "append", "overwrite_partitions"]


@dataclass(frozen=True, kw_only=True)
class DataFile:
    """One written data file, as a writer reports it to the commit."""

    path: str
    """Storage path relative to the table root, not URI-escaped."""
    size: int
    rows: int
    partition_values: dict[str, str | None]
    """Delta-encoded partition values (see `encode_partition_value`)."""
    stats: str


@dataclass(frozen=True, kw_only=True)
class WritePlan:
    """A write checked against the table before any file is written."""

    uri: str
    mode: WriteMode
    table_format: TableFormat
    schema: pa.Schema
    """Delta-normalised schema of the data being written, partition columns included."""
    partition_by: tuple[str, ...]
    marks: dict[str, int] = field(default_factory=dict)
    """Progress recorded with the files, atomically: Delta app transactions (app id: version),
    read back with `Lake.marks`. A reader of the table sees the files and the marks together."""
    notes: dict[str, str] = field(default_factory=dict)
    """Words for people reading the table's history (commitInfo), beside the mode."""
    replaced: tuple[dict[str, str | None], ...] = ()
    """`overwrite_partitions`: partitions (Delta-encoded values) emptied even if no new file
    lands in them, beside those the new files write to; how a rebuild deletes a whole day."""
    file_rows: int | None = None
    """Rows a data file holds at most, so that files stay near the target size; None: no
    limit."""

    @property
    def data_schema(self) -> pa.Schema:
        """The columns stored in data files: partition columns live in paths and the log."""
        return pa.schema([field for field in self.schema if field.name not in self.partition_by])


def plan_write(
    uri: str,
    storage: Storage,
    *,
    schema: pa.Schema,
    mode: WriteMode,
    partition_by: Sequence[str],
    table_format: TableFormat,
    marks: Mapping[str, int] | None = None,
    notes: Mapping[str, str] | None = None,
    replaced: Sequence[Mapping[str, str | None]] = (),
    file_rows: int | None = None,
) -> WritePlan:
    """Check a write against the existing table, so that a doomed write fails before it starts.

    Appends and partition overwrites keep the table's partitioning (and adopt it when none is
    given); an overwrite may change partitioning and schema.
    """
    schema = delta_schema(schema)
    missing = [name for name in partition_by if name not in schema.names]
    if missing:
        raise LakeWriteError(
            f"Cannot write {uri}: partition columns {missing} are not in the data."
        )
    partitions = tuple(partition_by)
    if table_format == "delta" and mode != "overwrite":
        table = open_delta(uri, storage)
        if table is not None:
            existing = tuple(table.metadata().partition_columns)
            if partitions and partitions != existing:
                raise LakeWriteError(
                    f"Cannot {mode} {uri} partitioned by {list(partitions)}: the table is "
                    f"partitioned by {list(existing)}. Use mode 'overwrite' to repartition it."
                )
            partitions = existing
            _merged_schema(uri, pa.schema(table.schema().to_arrow()), schema)
    if mode == "overwrite_partitions" and not partitions:
        raise LakeWriteError(
            f"Cannot overwrite partitions of {uri}: it has no partition columns. "
            "Give partition columns, or use mode 'overwrite'."
        )
    if replaced and mode != "overwrite_partitions":
        raise LakeWriteError(f"Cannot replace partitions of {uri} in mode {mode!r}.")
    if marks and table_format != "delta":
        raise LakeWriteError(f"Cannot record marks {sorted(marks)} on {uri}: only Delta has a log.")
    return WritePlan(
        uri=uri,
        mode=mode,
        table_format=table_format,
        schema=schema,
        partition_by=partitions,
        marks=dict(marks or {}),
        notes=dict(notes or {}),
        replaced=tuple(dict(values) for values in replaced),
        file_rows=file_rows,
    )


def commit(plan: WritePlan, storage: Storage, files: Sequence[DataFile]) -> int | None:
    """Make `files` the table's new state in one step; the new Delta version, or None for Parquet.

    Raises `LakeWriteError` if the table moved in a way the write cannot follow; the caller
    then removes `files` with `discard`.
    """
    if plan.table_format == "parquet":
        _replaceparquet_files(plan, storage, files)
        return None
    options = storage.delta_options(plan.uri)
    now = _now_ms()
    adds = [
        # delta-rs percent-encodes action paths itself: hand it the plain relative path.
        AddAction(f.path, f.size, f.partition_values, now, True, f.stats)
        for f in files
    ]
    properties = CommitProperties(
        custom_metadata={"rainforest.mode": plan.mode, **plan.notes},
        app_transactions=[Transaction(app, version) for app, version in plan.marks.items()],
    )
    table = open_delta(plan.uri, storage)
    try:
        if table is None:
            create_table_with_add_actions(
                plan.uri,
                DeltaSchema.from_arrow(plan.schema),
                adds,
                mode="error",
                partition_by=list(plan.partition_by),
                storage_options=options,
                commit_properties=properties,
            )
        elif plan.mode == "overwrite" and tuple(table.metadata().partition_columns) != (
            plan.partition_by
        ):
            create_table_with_add_actions(
                plan.uri,
                DeltaSchema.from_arrow(plan.schema),
                adds,
                mode="overwrite",
                partition_by=list(plan.partition_by),
                storage_options=options,
                commit_properties=properties,
            )
        elif plan.mode == "overwrite":
            table.create_write_transaction(
                adds,
                mode="overwrite",
                schema=plan.schema,
                partition_by=list(plan.partition_by),
                commit_properties=properties,
            )
        else:
            schema = _add_new_columns(plan, table)
            replaced = [*(f.partition_values for f in files), *plan.replaced]
            removes = (
                _removes_for(table, schema, replaced, now)
                if plan.mode == "overwrite_partitions"
                else []
            )
            table.create_write_transaction(
                [*removes, *adds],
                mode="append",
                schema=schema,
                partition_by=list(plan.partition_by),
                commit_properties=properties,
            )
    except RainforestError:
        raise
    except Exception as error:
        raise LakeWriteError(
            f"Committing the write to {plan.uri} failed, so the table keeps its previous "
            f"version: {error}"
        ) from error
    committed = open_delta(plan.uri, storage)
    return committed.version() if committed is not None else None


def staged_snapshot(plan: WritePlan, files: Sequence[DataFile]) -> Snapshot:
    """The files a write produced, as a snapshot of their own: what they hold can be read and
    checked before they are committed."""
    types = {name: plan.schema.field(name).type for name in plan.partition_by}
    return Snapshot(
        version=None,
        schema=plan.schema,
        partition_by=tuple(plan.partition_by),
        files=tuple(
            SnapshotFile(
                path=file.path,
                size=file.size,
                rows=file.rows,
                partition={
                    name: decode_partition_value(file.partition_values.get(name), kind)
                    for name, kind in types.items()
                },
                min_values={},
                max_values={},
            )
            for file in files
        ),
    )


def discard(uri: str, storage: Storage, paths: Iterable[str]) -> None:
    """Delete written but uncommitted files, so that a failed write leaves nothing behind."""
    filesystem, root = storage.filesystem(uri)
    for path in paths:
        try:
            filesystem.delete_file(f"{root}/{path}")
        except FileNotFoundError:
            continue


def _merged_schema(uri: str, current: pa.Schema, incoming: pa.Schema) -> pa.Schema:
    try:
        return merge_schemas(current, incoming)
    except ValueError as error:
        raise LakeWriteError(
            f"Cannot write to {uri}: {error}. Cast the column back, or overwrite the table."
        ) from error


def _add_new_columns(plan: WritePlan, table: DeltaTable) -> pa.Schema:
    """The merged schema, committed first if it grew.

    delta-rs keeps the table schema on append commits, so new columns need their own
    (metadata-only) commit; a write that fails after it leaves only empty nullable columns.
    """
    current = pa.schema(table.schema().to_arrow())
    merged = _merged_schema(plan.uri, current, plan.schema)
    new_fields = [field for field in merged if current.get_field_index(field.name) < 0]
    if new_fields:
        table.alter.add_columns([DeltaField.from_arrow(field) for field in new_fields])
    return merged


def _removes_for(
    table: DeltaTable, schema: pa.Schema, partitions: Sequence[Mapping[str, str | None]], now: int
) -> list[RemoveAction]:
    """Remove actions for the live files in `partitions` (Delta-encoded values)."""
    partition_by = table.metadata().partition_columns
    types = {name: schema.field(name).type for name in partition_by}
    replaced = {
        tuple(
            comparable(decode_partition_value(values.get(name), types[name]))
            for name in partition_by
        )
        for values in partitions
    }
    actions = pa.table(table.get_add_actions(flatten=False))
    removes = []
    for path, size, partition in zip(
        actions.column("path").to_pylist(),
        actions.column("size_bytes").to_pylist(),
        actions.column("partition").to_pylist(),
        strict=True,
    ):
        key = tuple(comparable(partition.get(name)) for name in partition_by)
        if key in replaced:
            encoded = {name: encode_partition_value(partition.get(name)) for name in partition_by}
            removes.append(RemoveAction(file_path(path), True, now, size, encoded))
    return removes


def _replaceparquet_files(plan: WritePlan, storage: Storage, files: Sequence[DataFile]) -> None:
    """Delete the files the new ones replace: after they are written, so a reader never finds
    the table empty (a Parquet table without a log cannot switch atomically)."""
    if plan.mode == "append":
        return
    filesystem, root = storage.filesystem(plan.uri)
    written = {f"{root}/{f.path}" for f in files}
    replaced_dirs = {partition_dir(f.partition_values) for f in files}
    stale = []
    for info in parquet_files(filesystem, root):
        if info.path in written:
            continue
        directory = "/".join(relative_parts(info.path, root)[:-1])
        if plan.mode == "overwrite" or directory in replaced_dirs:
            stale.append(info.path[len(root) + 1 :])
    discard(plan.uri, storage, stale)


def _now_ms() -> int:
    return int(time.time() * 1000)
