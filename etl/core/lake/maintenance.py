"""Keeping a table's storage in shape: fewer, larger files; no files only old versions need;
a checkpoint so that opening the log does not replay every commit.

Done with delta-rs in the calling process (no Spark): compaction rewrites small files into
files of about `TARGET_FILE_BYTES` (clustered by Z-order when asked), vacuum deletes files
that no version within the retention needs, except those of `keep_versions`, and the
checkpoint summarises the log. Compaction adds and removes files without changing a row
(`dataChange` false); the table's marks are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import pyarrow as pa

from etl.core.errors import ConfigError, LakeWriteError
from etl.core.lake.snapshot import missing_table, open_delta, parquet_files
from etl.core.lake.storage import Storage

TARGET_FILE_BYTES = 128 * 1024 * 1024
SHORTEST_SAFE_RETENTION = timedelta(days=1)
"""Files removed less than a day ago may still be read by a run that started before."""


@dataclass(frozen=True, kw_only=True)
class Footprint:
    """A table's files: those its current version reads, and all those in storage."""

    live_files: int
    live_bytes: int
    stored_files: int
    stored_bytes: int


@dataclass(frozen=True, kw_only=True)
class Maintained:
    before: Footprint
    after: Footprint
    files_compacted: int
    """Small files rewritten into larger ones (or re-clustered by Z-order)."""
    files_vacuumed: int
    checkpoint: int
    """The version the log's checkpoint was written at."""


def maintain(
    uri: str,
    storage: Storage,
    *,
    retention: timedelta,
    force: bool = False,
    keep_versions: Sequence[int] = (),
    zorder_by: Sequence[str] = (),
) -> Maintained:
    """Compact, vacuum files older than `retention` (shorter than a day only with `force`),
    and checkpoint the table at `uri`."""
    if retention < SHORTEST_SAFE_RETENTION and not force:
        raise ConfigError(
            f"A retention of {retention} could delete files that a run which started earlier "
            "is still reading: keep at least a day, or force it (--force) when no run is going."
        )
    table = open_delta(uri, storage)
    if table is None:
        raise missing_table(uri)
    before = footprint(uri, storage)
    try:
        if zorder_by:
            metrics = table.optimize.z_order(list(zorder_by), target_size=TARGET_FILE_BYTES)
        else:
            metrics = table.optimize.compact(target_size=TARGET_FILE_BYTES)
        vacuumed = table.vacuum(
            retention_hours=int(retention.total_seconds() // 3600),
            dry_run=False,
            enforce_retention_duration=not force,
            keep_versions=sorted(set(keep_versions)) or None,
        )
        table.update_incremental()
        table.create_checkpoint()
    except Exception as error:
        raise LakeWriteError(
            f"Maintaining {uri} failed; every committed version stays readable: {error}"
        ) from error
    return Maintained(
        before=before,
        after=footprint(uri, storage),
        files_compacted=int(metrics.get("numFilesRemoved", 0)),
        files_vacuumed=len(vacuumed),
        checkpoint=table.version(),
    )


def footprint(uri: str, storage: Storage) -> Footprint:
    table = open_delta(uri, storage)
    if table is None:
        raise missing_table(uri)
    sizes = pa.table(table.get_add_actions(flatten=True)).column("size_bytes").to_pylist()
    filesystem, root = storage.filesystem(uri)
    stored = parquet_files(filesystem, root)
    return Footprint(
        live_files=len(sizes),
        live_bytes=sum(sizes),
        stored_files=len(stored),
        stored_bytes=sum(info.size or 0 for info in stored),
    )
