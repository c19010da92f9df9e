"""What a table holds at one version: its schema and live files, read from the Delta log.

Scans plan from a `Snapshot`; commits (`commit`) check writes against it. A plain Parquet
folder (`table_format="parquet"`) gets a snapshot too, listed from its files.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError
from deltalake.exceptions import TableNotFoundError as DeltaTableNotFoundError
from pyarrow import fs

from etl.core.errors import ConfigError, LogDamagedError, RainforestError, TableNotFoundError
from etl.core.lake.encoding import (
    comparable,
    decode_partition_value,
    encode_partition_value,
    file_path,
    partition_matches,
)
from etl.core.lake.storage import Storage, explained

TableFormat = Literal["delta", "parquet"]

# Reader features whose files can be read as plain Parquet; anything else (deletion vectors,
# column mapping) changes what a file's rows mean, and this reader would return wrong rows.
_READABLE_FEATURES = frozenset({"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})
_HIDDEN_PREFIXES = ("_", ".")
LOG_FOLDER = "_delta_log"
_DAMAGE_LOOKBACK = 10
"""Versions tried, newest first, for the last one the log can still give."""


class UnsupportedTableError(RainforestError):
    """A Delta table uses a protocol feature the lake cannot read correctly."""


@dataclass(frozen=True, kw_only=True)
class SnapshotFile:
    path: str
    """Storage path relative to the table root, not URI-escaped."""
    size: int
    partition: dict[str, object]
    """Typed partition values."""
    min_values: dict[str, object]
    max_values: dict[str, object]
    rows: int | None = None
    """Rows in the file, from its statistics (None when the writer recorded none)."""


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """A table's schema and live files at one version: everything a scan plans from."""

    version: int | None
    schema: pa.Schema
    partition_by: tuple[str, ...]
    files: tuple[SnapshotFile, ...]

    def project(self, columns: Sequence[str]) -> Snapshot:
        """The same files with only `columns`, so that scans read no other column."""
        unknown = [name for name in columns if name not in self.schema.names]
        if unknown:
            raise ConfigError(
                f"Columns {unknown} are not in the table; it has {self.schema.names}."
            )
        return replace(self, schema=pa.schema([self.schema.field(name) for name in columns]))

    def within(self, partitions: Sequence[Mapping[str, object]]) -> Snapshot:
        """The same version with only the files of `partitions` (typed values; None matches
        null; `{}` names every file): what a read of those partitions alone is handed."""
        return replace(
            self,
            files=tuple(
                file
                for file in self.files
                if any(partition_matches(file.partition, wanted) for wanted in partitions)
            ),
        )

    def to_json(self) -> str:
        """The snapshot as text, for a reader that runs in another process (a Spark worker):
        the schema in Arrow's IPC form, partition values in Delta's strings."""
        return json.dumps(
            {
                "version": self.version,
                "schema": base64.b64encode(self.schema.serialize().to_pybytes()).decode(),
                "partition_by": list(self.partition_by),
                "files": [
                    {
                        "path": file.path,
                        "size": file.size,
                        "rows": file.rows,
                        "partition": {
                            name: encode_partition_value(value)
                            for name, value in file.partition.items()
                        },
                    }
                    for file in self.files
                ],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        """The snapshot `to_json` wrote, without the files' column statistics."""
        data = json.loads(text)
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(data["schema"])))
        return cls(
            version=data["version"],
            schema=schema,
            partition_by=tuple(data["partition_by"]),
            files=tuple(
                SnapshotFile(
                    path=file["path"],
                    size=file["size"],
                    rows=file["rows"],
                    partition={
                        name: decode_partition_value(text, schema.field(name).type)
                        for name, text in file["partition"].items()
                    },
                    min_values={},
                    max_values={},
                )
                for file in data["files"]
            ),
        )


def table_exists(uri: str, storage: Storage, *, table_format: TableFormat) -> bool:
    if table_format == "delta":
        return open_delta(uri, storage) is not None
    filesystem, root = storage.filesystem(uri)
    return bool(parquet_files(filesystem, root))


def load_snapshot(
    uri: str, storage: Storage, *, table_format: TableFormat, version: int | None = None
) -> Snapshot:
    """The table's snapshot (the latest, or `version`); `TableNotFoundError` if there is none."""
    if table_format == "parquet":
        return _parquet_snapshot(uri, storage)
    table = open_delta(uri, storage, version=version)
    if table is None:
        raise missing_table(uri)
    unreadable = set(table.protocol().reader_features or ()) - _READABLE_FEATURES
    if unreadable:
        raise UnsupportedTableError(
            f"The Delta table {uri} uses reader features {sorted(unreadable)}, which the lake "
            "cannot read; rewrite it without them (e.g. disable deletion vectors)."
        )
    actions = pa.table(table.get_add_actions(flatten=False))
    columns = set(actions.column_names)

    def column(name: str) -> list[object]:
        return actions.column(name).to_pylist() if name in columns else [None] * len(actions)

    files = tuple(
        SnapshotFile(
            path=file_path(path),
            size=size,
            partition=partition or {},
            min_values=low or {},
            max_values=high or {},
            rows=rows,
        )
        for path, size, partition, low, high, rows in zip(
            column("path"),
            column("size_bytes"),
            column("partition"),
            column("min"),
            column("max"),
            column("num_records"),
            strict=True,
        )
    )
    return Snapshot(
        version=table.version(),
        schema=pa.schema(table.schema().to_arrow()),
        partition_by=tuple(table.metadata().partition_columns),
        files=files,
    )


def history(uri: str, storage: Storage) -> list[dict[str, object]]:
    table = open_delta(uri, storage)
    if table is None:
        raise missing_table(uri)
    return table.history()


def missing_table(uri: str) -> TableNotFoundError:
    return TableNotFoundError(f"No table at {uri}: build it first with `rainforest run <table>`.")


def open_delta(uri: str, storage: Storage, *, version: int | None = None) -> DeltaTable | None:
    options = storage.delta_options(uri)
    try:
        return DeltaTable(uri, version=version, storage_options=options)
    except DeltaTableNotFoundError:
        return None
    except (OSError, DeltaError) as error:
        known = explained(storage, uri, error)
        if known is not None:
            raise known from None
        if isinstance(error, OSError):
            raise
        if version is None:
            damaged = _damaged_log(uri, storage, error)
            if damaged is not None:
                raise damaged from None
            raise
        if DeltaTable.is_deltatable(uri, storage_options=options) is False:
            raise
        raise TableNotFoundError(
            f"The table at {uri} has no version {version}: `Lake.history` lists its versions."
        ) from error


def log_versions(uri: str, storage: Storage) -> list[int]:
    """The versions that have an entry in the table's Delta log, in order."""
    filesystem, root = storage.filesystem(uri)
    try:
        infos = filesystem.get_file_info(fs.FileSelector(f"{root}/{LOG_FOLDER}"))
    except FileNotFoundError:
        return []
    names = (info.base_name.removesuffix(".json") for info in infos if info.is_file)
    return sorted(int(name) for name in names if name.isdigit())


def _damaged_log(uri: str, storage: Storage, error: DeltaError) -> LogDamagedError | None:
    """The error to raise when the log's newest entries cannot be read but an earlier version
    of the table can; None when the table's trouble is something else."""
    versions = log_versions(uri, storage)
    options = storage.delta_options(uri)
    for candidate in reversed(versions[:-1][-_DAMAGE_LOOKBACK:]):
        try:
            DeltaTable(uri, version=candidate, storage_options=options)
        except DeltaError:
            continue
        return LogDamagedError(
            uri,
            damaged=tuple(v for v in versions if v > candidate),
            intact=candidate,
            cause=str(error).strip().splitlines()[0][:200],
        )
    return None


def parquet_files(filesystem: fs.FileSystem, root: str) -> list[fs.FileInfo]:
    try:
        infos = filesystem.get_file_info(fs.FileSelector(root, recursive=True))
    except FileNotFoundError:
        return []
    return [
        info
        for info in infos
        if info.type == fs.FileType.File
        and info.path.endswith(".parquet")
        and not any(part.startswith(_HIDDEN_PREFIXES) for part in relative_parts(info.path, root))
    ]


def relative_parts(path: str, root: str) -> list[str]:
    return path[len(root) + 1 :].split("/")


def _parquet_snapshot(uri: str, storage: Storage) -> Snapshot:
    filesystem, root = storage.filesystem(uri)
    infos = parquet_files(filesystem, root)
    if not infos:
        raise missing_table(uri)
    dataset = ds.dataset(
        [info.path for info in infos],
        filesystem=filesystem,
        format="parquet",
        partitioning=ds.HivePartitioning.discover(infer_dictionary=False),
        partition_base_dir=root,
    )
    sizes = {info.path: info.size for info in infos}
    files = tuple(
        SnapshotFile(
            path=fragment.path[len(root) + 1 :],
            size=sizes[fragment.path],
            partition=dict(ds.get_partition_keys(fragment.partition_expression)),
            min_values={},
            max_values={},
        )
        for fragment in dataset.get_fragments()
    )
    partitioning = dataset.partitioning
    partition_by = tuple(partitioning.schema.names) if partitioning is not None else ()
    return Snapshot(version=None, schema=dataset.schema, partition_by=partition_by, files=files)


def typed_partitions(snapshot: Snapshot) -> list[dict[str, object]]:
    """Distinct typed partition values of a snapshot, in a stable order."""
    return distinct_partitions(
        {name: file.partition.get(name) for name in snapshot.partition_by}
        for file in snapshot.files
    )


def distinct_partitions(partitions: Iterable[dict[str, object]]) -> list[dict[str, object]]:
    """Each partition once (values compared as Spark and delta-rs agree), first seen first."""
    seen: dict[tuple[object, ...], dict[str, object]] = {}
    for values in partitions:
        key = tuple((name, comparable(value)) for name, value in sorted(values.items()))
        seen.setdefault(key, values)
    return list(seen.values())
