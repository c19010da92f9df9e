"""The façade the table framework calls: write, read and inspect lake tables by URI."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from py4j.java_gateway import JavaMember, JavaObject, JVMView
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

from etl.core.errors import ConfigError, LakeWriteError, RainforestError, TableNotFoundError
from etl.core.lake.commit import (
    DataFile,
    WriteMode,
    WritePlan,
    commit,
    discard,
    plan_write,
    staged_snapshot,
)
from etl.core.lake.datasource import (
    FORMAT_NAME,
    OPTION_COLUMNS,
    OPTION_FILE_ROWS,
    OPTION_FORMAT,
    OPTION_MARKS,
    OPTION_MIN_PARTITIONS,
    OPTION_MODE,
    OPTION_NOTES,
    OPTION_PARTITION_BY,
    OPTION_RECEIPT,
    OPTION_REPLACED,
    OPTION_SNAPSHOT,
    OPTION_VERSION,
)
from etl.core.lake.encoding import (
    comparable,
    decode_partition_value,
    encode_partition_value,
    file_stats,
    parse_partition_dir,
)
from etl.core.lake.scan import partitions_holding, rows_above
from etl.core.lake.snapshot import (
    Snapshot,
    TableFormat,
    history,
    load_snapshot,
    open_delta,
    table_exists,
    typed_partitions,
)
from etl.core.lake.storage import Storage, explained, is_local, local_path
from etl.core.lake.write import load_receipt
from etl.core.settings import Settings

TARGET_FILE_BYTES = 128 * 1024 * 1024
"""What a data file aims at: big enough that reading a table opens few files, small enough
that a task writes one in seconds and compaction has little to do (Delta's own target)."""
_VARIABLE_WIDTH_BYTES = 32
"""The width guessed for a string or binary value, before a table has files to measure."""

_UTC_ZONES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z", "+00:00"})
_NUL = "\x00"


@dataclass(frozen=True, kw_only=True)
class WriteResult:
    """What a write did, counted from the written files' footers (no extra Spark job)."""

    version: int | None
    """The Delta version the write created; None for Parquet tables."""
    rows: int
    files: int


@dataclass(frozen=True, kw_only=True)
class Written:
    """A write's files before their commit: what `Lake.write`'s `verify` judges."""

    rows: int
    """Rows in the files, from their footers."""
    frame: DataFrame
    """The files' rows, read by Spark."""
    load: Callable[[Sequence[str]], pa.Table]
    """Some columns of the files' rows, read into this process by pyarrow: quicker than a
    Spark job for a write of few rows."""


@dataclass(frozen=True, kw_only=True)
class FilesChanged:
    """Partitions whose files changed between two versions of a table."""

    rows: int
    """Rows in the files removed and added: what comparing the two versions reads."""
    partition_by: tuple[str, ...]
    partitions: list[dict[str, object]]
    """Typed partition values; one empty mapping when the table has no partitions."""
    any: bool


class LakeLog:
    """What the Delta logs of the warehouse's tables say: versions, marks, partitions, row
    counts and history, read with delta-rs alone. Needs no Spark, so `rainforest plan`
    answers without starting a JVM.
    """

    def __init__(self, settings: Settings) -> None:
        self._storage = Storage.from_settings(settings)

    def exists(self, uri: str, *, table_format: TableFormat = "delta") -> bool:
        return table_exists(uri, self._storage, table_format=table_format)

    def schema(self, uri: str) -> pa.Schema | None:
        """The schema of the table's latest version; None when there is no table yet."""
        if not self.exists(uri):
            return None
        return load_snapshot(uri, self._storage, table_format="delta").schema

    def partition_values(
        self, uri: str, *, table_format: TableFormat = "delta"
    ) -> list[dict[str, object]]:
        """Distinct partition values of the current snapshot, typed, from metadata alone."""
        snapshot = load_snapshot(uri, self._storage, table_format=table_format)
        return typed_partitions(snapshot)

    def partitions_holding(
        self, uri: str, column: str, values: Sequence[object]
    ) -> list[dict[str, object]]:
        """The partitions that may hold rows whose `column` is one of `values`, from the log's
        file statistics alone (a superset: see `snapshot.partitions_holding`)."""
        snapshot = load_snapshot(uri, self._storage, table_format="delta")
        return partitions_holding(snapshot, column, values)

    def rows_above(
        self, uri: str, column: str, value: object, *, version: int | None = None
    ) -> int | None:
        """Rows (as of `version`) that may hold a `column` above `value`, from the log's file
        statistics alone: an upper bound (see `scan.rows_above`)."""
        snapshot = load_snapshot(uri, self._storage, table_format="delta", version=version)
        return rows_above(snapshot, column, value)

    def marks(
        self, uri: str, names: Sequence[str], *, version: int | None = None
    ) -> dict[str, int]:
        """The values writes last recorded under `names` (see `write`), as of `version`; a name
        never recorded, or a table that does not exist, is left out. Read from the log's state,
        not its history, so it costs the same after a thousand commits as after one."""
        table = open_delta(uri, self._storage, version=version)
        if table is None:
            return {}
        recorded = {name: table.transaction_version(name) for name in names}
        return {name: value for name, value in recorded.items() if value is not None}

    def version(self, uri: str) -> int | None:
        """The table's latest Delta version; None when there is no table yet."""
        return self.state(uri)[0]

    def state(self, uri: str, names: Sequence[str] = ()) -> tuple[int | None, dict[str, int]]:
        """The table's latest version and the marks recorded under `names` (see `marks`), from
        one read of its log; `(None, {})` when there is no table yet."""
        table = open_delta(uri, self._storage)
        if table is None:
            return None, {}
        recorded = {name: table.transaction_version(name) for name in names}
        return table.version(), {k: v for k, v in recorded.items() if v is not None}

    def files_changed(self, uri: str, since: int) -> FilesChanged | None:
        """Which partitions gained or lost files between version `since` and the latest, from
        the log alone; None when `since` can no longer be read (its log entries are gone)."""
        try:
            before = load_snapshot(uri, self._storage, table_format="delta", version=since)
        except TableNotFoundError:
            return None
        after = load_snapshot(uri, self._storage, table_format="delta")
        if after.partition_by != before.partition_by:
            return None
        was = {file.path: file for file in before.files}
        now = {file.path: file for file in after.files}
        moved = [was[path] for path in was.keys() - now.keys()]
        moved += [now[path] for path in now.keys() - was.keys()]
        partitions = {
            tuple(comparable(file.partition.get(name)) for name in after.partition_by)
            for file in moved
        }
        return FilesChanged(
            rows=sum(file.rows or 0 for file in moved),
            partition_by=after.partition_by,
            partitions=[
                dict(zip(after.partition_by, values, strict=True)) for values in partitions
            ],
            any=bool(moved),
        )

    def rows(self, uri: str) -> int:
        """Rows of the table's latest version, from the log's file statistics (no data read)."""
        table = open_delta(uri, self._storage)
        if table is None:
            return 0
        counts = pa.table(table.get_add_actions(flatten=True)).column("num_records").to_pylist()
        return sum(count or 0 for count in counts)

    def history(self, uri: str) -> list[dict[str, object]]:
        """The Delta log's commits, newest first."""
        return history(uri, self._storage)


class Lake(LakeLog):
    """Delta (or plain Parquet) tables on the warehouse's storage, through Spark.

    Example:
        lake = Lake(spark, settings)
        uri = settings.table_uri("silver", "fct_orders")
        lake.write(orders, uri, mode="overwrite_partitions", partition_by=["order_date"])
        latest = lake.read(uri, partition_values=lake.partition_values(uri)[-1])
    """

    def __init__(self, spark: SparkSession, settings: Settings) -> None:
        super().__init__(settings)
        self._spark = spark

    def write(
        self,
        df: DataFrame,
        uri: str,
        *,
        mode: WriteMode = "overwrite",
        partition_by: Sequence[str] = (),
        table_format: TableFormat = "delta",
        marks: Mapping[str, int] | Callable[[int], Mapping[str, int]] | None = None,
        notes: Mapping[str, str] | None = None,
        replaced: Sequence[Mapping[str, object]] = (),
        rows: int | None = None,
        verify: Callable[[Written], None] | None = None,
        commit_empty: bool = True,
        gather: bool = True,
    ) -> WriteResult:
        """Write `df` as the table's next version in one commit; on failure the table keeps its
        previous version and no written file remains.

        `verify` sees the written rows before the commit (the new files alone, read rather
        than computed again from `df`): whatever it raises fails the write.

        Files aim at `TARGET_FILE_BYTES`: a partition's rows go to one file, more only past
        that size, and an unpartitioned table of `rows` (given, or for an overwrite, as many
        as it holds now) is written as that many rows' worth of files, not one per task.
        Without `gather`, each task writes the rows it holds: for rows that already come in
        tasks of a fair size and all hold one partition value (a source batch read in key
        ranges), gathering would shuffle every row into one task.

        `marks` are recorded in the same commit (see `marks`), so progress such as a high-water
        mark can never run ahead of, or lag behind, the rows it describes; a function gives
        them from the rows written. Without `commit_empty`, a write of no rows commits nothing
        and the table stays at its version. `notes` go into
        the commit's history entry for people. With `overwrite_partitions`, the partitions
        `replaced` (typed values) are emptied too, whether or not `df` has rows for them.
        """
        schema = to_arrow_schema(df.schema, timezone="UTC")
        layout = self._layout(uri, schema, table_format)
        plan = plan_write(
            uri,
            self._storage,
            schema=schema,
            mode=mode,
            partition_by=partition_by,
            table_format=table_format,
            marks=None if callable(marks) else marks,
            notes=notes,
            replaced=[
                {name: encode_partition_value(value) for name, value in values.items()}
                for values in replaced
            ],
            file_rows=layout.file_rows,
        )
        expected = rows if rows is not None or mode != "overwrite" else layout.stored_rows
        if gather:
            df = _gathered(df, plan, expected)
        native = self._native_writable(plan)
        files: list[DataFile] = []
        try:
            files = self._write_native(df, plan) if native else self._write_through_source(df, plan)
            if verify is not None:
                verify(self._staged(plan, files))
            written = sum(file.rows for file in files)
            if not written and not commit_empty:
                discard(plan.uri, self._storage, [file.path for file in files])
                return WriteResult(version=self.version(uri), rows=0, files=0)
            if callable(marks):
                plan = replace(plan, marks=dict(marks(written)))
            version = commit(plan, self._storage, files)
        except Exception as error:
            discard(plan.uri, self._storage, [file.path for file in files])
            if isinstance(error, RainforestError):
                raise
            known = None if native else explained(self._storage, plan.uri, error)
            if known is not None:
                raise known from None
            raise LakeWriteError(
                f"Writing {plan.uri} failed, so the table keeps its previous version: "
                f"{_first_line(error)}"
            ) from error
        return WriteResult(version=version, rows=written, files=len(files))

    def read(
        self,
        uri: str,
        *,
        version: int | None = None,
        columns: Sequence[str] | None = None,
        partition_values: Mapping[str, object] | None = None,
        partitions: Sequence[Mapping[str, object]] | None = None,
        table_format: TableFormat = "delta",
    ) -> DataFrame:
        """The table (at `version`, default latest), restricted to `columns` and to the rows
        whose partition columns equal `partition_values`, or one of `partitions` (typed
        values; None matches null). Only those partitions' files are read, whatever the
        storage: the rows are chosen by file before any scan, not by a filter.

        Raises `TableNotFoundError` if nothing was written at `uri` yet.
        """
        if partition_values is not None and partitions is not None:
            raise ValueError("Pass partition_values (one partition) or partitions, not both.")
        snapshot = load_snapshot(uri, self._storage, table_format=table_format, version=version)
        chosen = [partition_values] if partition_values is not None else partitions
        if chosen is not None:
            not_partitions = sorted(
                {name for wanted in chosen for name in wanted} - set(snapshot.partition_by)
            )
            if not_partitions:
                raise ConfigError(
                    f"{not_partitions} are not partition columns of {uri}; "
                    f"its partition columns are {list(snapshot.partition_by)}."
                )
            snapshot = snapshot.within(chosen)
        if self._native_readable(uri, snapshot):
            df = self._read_native(uri, snapshot)
        else:
            df = self._read_through_source(
                uri, snapshot, columns, table_format, chosen=chosen is not None
            )
        return df.select(*columns) if columns is not None else df

    def _write_through_source(self, df: DataFrame, plan: WritePlan) -> list[DataFile]:
        """The data files, written by the lake's Python data source on the executors.

        Spark resolves a Python data source's name on save through the calling thread's active
        session, and a thread the pipeline's pool started has none: without making the session
        active, every write from a build thread fails with DATA_SOURCE_NOT_FOUND (reads name
        their session and are not affected)."""
        jvm_session_class = self._spark._jvm.org.apache.spark.sql.SparkSession  # type: ignore[union-attr]
        jvm_session_class.setActiveSession(self._spark._jsparkSession)
        handle, receipt = tempfile.mkstemp(prefix="rainforest-write-", suffix=".json")
        os.close(handle)
        try:
            (
                df.write.format(FORMAT_NAME)
                .mode("append" if plan.mode == "append" else "overwrite")
                .options(**self._storage.to_options())
                .option(OPTION_FORMAT, plan.table_format)
                .option(OPTION_MODE, plan.mode)
                .option(OPTION_PARTITION_BY, _json_list(plan.partition_by))
                .option(OPTION_RECEIPT, receipt)
                .option(OPTION_MARKS, json.dumps(plan.marks))
                .option(OPTION_NOTES, json.dumps(plan.notes))
                .option(OPTION_REPLACED, json.dumps(plan.replaced))
                .option(OPTION_FILE_ROWS, str(plan.file_rows or ""))
                .save(plan.uri)
            )
            return load_receipt(receipt)
        finally:
            os.unlink(receipt)

    def _staged(self, plan: WritePlan, files: Sequence[DataFile]) -> Written:
        """The rows of files written but not committed yet."""
        snapshot = staged_snapshot(plan, files)
        if self._native_readable(plan.uri, snapshot):
            frame = self._read_native(plan.uri, snapshot)
        else:
            frame = (
                self._spark.read.format(FORMAT_NAME)
                .options(**self._storage.to_options())
                .option(OPTION_SNAPSHOT, snapshot.to_json())
                .option(OPTION_MIN_PARTITIONS, str(self._spark.sparkContext.defaultParallelism))
                .load(plan.uri)
            )
        return Written(
            rows=sum(file.rows for file in files),
            frame=frame,
            load=lambda columns: _load_columns(self._storage, plan.uri, snapshot, columns),
        )

    def _layout(self, uri: str, schema: pa.Schema, table_format: TableFormat) -> _Layout:
        """Rows per file for the target size, from the bytes a row takes in the table's files,
        or for a new table from its columns' widths (uncompressed: an overestimate)."""
        table = open_delta(uri, self._storage) if table_format == "delta" else None
        stored_rows, stored_bytes = 0, 0
        if table is not None:
            actions = pa.table(table.get_add_actions(flatten=True))
            stored_rows = sum(count or 0 for count in actions.column("num_records").to_pylist())
            stored_bytes = sum(actions.column("size_bytes").to_pylist())
        row_bytes = stored_bytes / stored_rows if stored_rows else _row_width(schema)
        return _Layout(
            file_rows=max(1, int(TARGET_FILE_BYTES / max(row_bytes, 1))),
            stored_rows=stored_rows if table is not None else None,
        )

    def _native_writable(self, plan: WritePlan) -> bool:
        """Whether Spark's Parquet writer can produce the data files: a local table (Spark has no
        S3 connector here), Delta's microsecond timestamps, and partition timestamps that Spark
        names in UTC."""
        if not is_local(plan.uri):
            return False
        if self._spark.conf.get("spark.sql.parquet.outputTimestampType") != "TIMESTAMP_MICROS":
            return False
        zone = self._spark.conf.get("spark.sql.session.timeZone")
        return zone in _UTC_ZONES or not any(
            pa.types.is_timestamp(plan.schema.field(name).type) for name in plan.partition_by
        )

    def _write_native(self, df: DataFrame, plan: WritePlan) -> list[DataFile]:
        """The data files, written by Spark's own Parquet writer into a staging folder in the
        table and moved into place.

        Spark's writer is faster than shipping rows to Python; the staging folder starts with
        `_`, so neither Delta nor Parquet readers look into it, and it is removed either way.
        """
        root = local_path(plan.uri)
        staging = f"{root}/_staging/{uuid.uuid4().hex}"
        try:
            writer = df.write.mode("errorifexists").option("compression", "snappy")
            if plan.file_rows is not None:
                writer = writer.option("maxRecordsPerFile", plan.file_rows)
            if plan.partition_by:
                writer = writer.partitionBy(*plan.partition_by)
            writer.parquet(staging)
            return _adopt_files(staging, root, plan)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            with contextlib.suppress(OSError):  # another write may still be staging
                os.rmdir(os.path.dirname(staging))

    def _read_through_source(
        self,
        uri: str,
        snapshot: Snapshot,
        columns: Sequence[str] | None,
        table_format: TableFormat,
        *,
        chosen: bool,
    ) -> DataFrame:
        """The table through the lake's Python data source; a snapshot whose files were
        `chosen` goes with the read, as the source takes no filters to choose them by."""
        reader = (
            self._spark.read.format(FORMAT_NAME)
            .options(**self._storage.to_options())
            .option(OPTION_FORMAT, table_format)
            .option(OPTION_MIN_PARTITIONS, str(self._spark.sparkContext.defaultParallelism))
        )
        if snapshot.version is not None:
            reader = reader.option(OPTION_VERSION, str(snapshot.version))
        if chosen and columns is not None:
            # The snapshot handed over types its partition values by their columns: it keeps
            # them all, and `read` drops the ones not asked for.
            columns = [*columns, *(name for name in snapshot.partition_by if name not in columns)]
        if columns is not None:
            reader = reader.option(OPTION_COLUMNS, _json_list(columns))
        if chosen:
            projected = snapshot.project(columns) if columns is not None else snapshot
            reader = reader.option(OPTION_SNAPSHOT, projected.to_json())
        return reader.load(uri)

    def _native_readable(self, uri: str, snapshot: Snapshot) -> bool:
        """Whether Spark's Parquet reader sees the same rows: local files, hive-style paths that
        spell the log's partition values, and partition timestamps parsed in UTC."""
        if not is_local(uri):
            return False
        types = {field.name: field.type for field in snapshot.schema}
        zone = self._spark.conf.get("spark.sql.session.timeZone")
        if zone not in _UTC_ZONES and any(
            pa.types.is_timestamp(types[name]) for name in snapshot.partition_by
        ):
            return False
        for file in snapshot.files:
            if "://" in file.path or file.path.startswith("/"):
                return False
            in_path = parse_partition_dir(file.path)
            if list(in_path) != list(snapshot.partition_by):
                return False
            for name, text in in_path.items():
                if comparable(decode_partition_value(text, types[name])) != comparable(
                    file.partition.get(name)
                ):
                    return False
        return True

    def _read_native(self, uri: str, snapshot: Snapshot) -> DataFrame:
        schema = from_arrow_schema(snapshot.schema, prefer_timestamp_ntz=True)
        root = local_path(uri)
        paths = [f"{root}/{file.path}" for file in snapshot.files]
        if not paths:
            return self._spark.createDataFrame([], schema)
        # Spark's own objects, driven directly: a read is one of the commonest steps of a run,
        # and pyspark's reader spends twelve py4j calls on its set-up and passes each path and
        # each column in calls of its own (a py4j call costs about 0.5 ms of CPU).
        session = self._spark._jsparkSession
        reader = session.read().schema(session.parseDataType(schema.json()))
        jdf = reader.option("basePath", root).parquet(_scala_strings(self._spark, paths))
        first, *others = snapshot.schema.names
        return DataFrame(jdf.select(first, _scala_strings(self._spark, others)), self._spark)


def _scala_strings(spark: SparkSession, values: Sequence[str]) -> JavaObject:
    """`values` as a Scala `Seq[String]` in the JVM, made in three py4j calls whatever their
    number (pyspark passes a list one element per call): one string, split there. No path
    or column name holds a NUL."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    splitter, to_seq = _jvm_helpers(jvm)
    return to_seq(splitter.splitAsStream(_NUL.join(values)).toList() if values else [])


@functools.lru_cache(maxsize=1)
def _jvm_helpers(jvm: JVMView) -> tuple[JavaObject, JavaMember]:
    """A regex splitting at NUL and Spark's `PythonUtils.toSeq`, kept: naming a JVM class or
    method costs py4j calls of its own."""
    splitter = jvm.java.util.regex.Pattern.compile(_NUL)
    return splitter, jvm.org.apache.spark.api.python.PythonUtils.toSeq


def _adopt_files(staging: str, root: str, plan: WritePlan) -> list[DataFile]:
    """Move Spark's output files from `staging` into the table and describe them for the log,
    with statistics from their Parquet footers (metadata only, no data read)."""
    types = {name: plan.schema.field(name).type for name in plan.partition_by}
    moves = []
    for path in sorted(Path(staging).rglob("*.parquet")):
        relative = path.relative_to(staging).as_posix()
        if any(part.startswith(("_", ".")) for part in relative.split("/")):
            continue
        moves.append((path, relative))

    def adopt(move: tuple[Path, str]) -> DataFile:
        source, relative = move
        target = Path(root, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        metadata = pq.read_metadata(target)
        in_path = parse_partition_dir(relative)
        return DataFile(
            path=relative,
            size=target.stat().st_size,
            rows=metadata.num_rows,
            partition_values={
                name: encode_partition_value(decode_partition_value(in_path.get(name), kind))
                for name, kind in types.items()
            },
            stats=file_stats(metadata, plan.data_schema),
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(adopt, moves))


def _load_columns(
    storage: Storage, uri: str, snapshot: Snapshot, columns: Sequence[str]
) -> pa.Table:
    """`columns` of the snapshot's files as one Arrow table; partition columns, which live in
    the paths and not in the files, are filled in from each file's values."""
    filesystem, root = storage.filesystem(uri)
    stored = [name for name in columns if name not in snapshot.partition_by]
    pieces = []
    for file in snapshot.files:
        piece = pq.read_table(f"{root}/{file.path}", columns=stored, filesystem=filesystem)
        for name in columns:
            if name in snapshot.partition_by:
                kind = snapshot.schema.field(name).type
                value = pa.array([file.partition.get(name)] * piece.num_rows, type=kind)
                piece = piece.append_column(name, value)
        pieces.append(piece.select(list(columns)))
    if not pieces:
        return pa.schema([snapshot.schema.field(name) for name in columns]).empty_table()
    return pa.concat_tables(pieces)


def _json_list(names: Sequence[str]) -> str:
    return json.dumps(list(names))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:500] if text else type(error).__name__


@dataclass(frozen=True)
class _Layout:
    file_rows: int
    stored_rows: int | None
    """Rows the table holds now; None when it does not exist yet."""


def _gathered(df: DataFrame, plan: WritePlan, rows: int | None) -> DataFrame:
    """`df` in as many tasks as it should have files: a partition's rows in one task (its
    writer splits a partition past `file_rows`), an unpartitioned table's `rows` in one task
    per file; unchanged when neither is known."""
    if plan.partition_by:
        return df.repartition(*plan.partition_by)
    if rows is None or plan.file_rows is None:
        return df
    return df.repartition(max(1, -(-rows // plan.file_rows)))


def _row_width(schema: pa.Schema) -> float:
    return sum(_value_width(field.type) for field in schema)


def _value_width(data_type: pa.DataType) -> float:
    try:
        return data_type.bit_width / 8
    except ValueError:  # not fixed-width: strings, binaries, nested values
        return _VARIABLE_WIDTH_BYTES
