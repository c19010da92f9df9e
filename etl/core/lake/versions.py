"""A table's versions: its history, and making an earlier version current again.

Both work on the Delta log and the data files alone, without Spark, so `rainforest history`
and `rainforest restore` answer in a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
from deltalake import Transaction
from deltalake.transaction import CommitProperties

from etl.core.errors import ConfigError, LakeWriteError, LogDamagedError, TableNotFoundError
from etl.core.lake.snapshot import LOG_FOLDER, load_snapshot, missing_table, open_delta
from etl.core.lake.storage import Storage

DAMAGED_FOLDER = "_damaged_log"
MARK_RESTORED = "rainforest.restored"
"""The version a restore created. A table downstream that read an earlier version cannot
follow the change by comparing versions (the restored rows went back, not forward), so it
rebuilds whole."""

NOTE_RUN_ID = "rainforest.run_id"
NOTE_BUILD = "rainforest.build"
NOTE_WHY = "rainforest.why"
NOTE_MODE = "rainforest.mode"
NOTE_BATCH = "rainforest.batch"
"""A source table's batch: `full` (a snapshot) or `changes`."""


@dataclass(frozen=True, kw_only=True)
class TableVersion:
    """One commit of a table, as `rainforest history` shows it."""

    version: int
    timestamp: datetime
    operation: str
    """How the rows were written (`overwrite`, `append`, `overwrite_partitions`) or `RESTORE`."""
    rows: int
    """Rows in the table at this version, from the log's file statistics."""
    size_bytes: int = 0
    """Bytes of the data files of this version."""
    run_id: str | None
    build: str | None
    """`full`, `replace` or a batch kind (`full`, `changes`) for source tables."""
    why: str | None


@dataclass(frozen=True, kw_only=True)
class Restored:
    """What a restore did."""

    restored: int
    """The version made current again."""
    version: int
    """The new version, holding the restored state."""
    files_added: int
    files_removed: int


def table_history(uri: str, storage: Storage, *, last: int) -> list[TableVersion]:
    """The table's `last` commits, newest first."""
    table = open_delta(uri, storage)
    if table is None:
        raise missing_table(uri)
    versions = []
    for entry in table.history(last):
        number = int(entry["version"])
        at = open_delta(uri, storage, version=number)
        files = pa.table(at.get_add_actions(flatten=True)) if at is not None else None
        counts = files.column("num_records").to_pylist() if files is not None else []
        sizes = files.column("size_bytes").to_pylist() if files is not None else []
        versions.append(
            TableVersion(
                version=number,
                timestamp=_committed_at(entry),
                operation=str(entry.get(NOTE_MODE) or entry.get("operation") or ""),
                rows=sum(count or 0 for count in counts),
                size_bytes=sum(size or 0 for size in sizes),
                run_id=_text(entry.get(NOTE_RUN_ID)),
                build=_text(entry.get(NOTE_BUILD) or entry.get(NOTE_BATCH)),
                why=_text(entry.get(NOTE_WHY)),
            )
        )
    return versions


def last_built_at(uri: str, storage: Storage, *, among: int = 50) -> datetime | None:
    """When a run last committed the table (the newest commit noting a run id, among the last
    `among`); the earliest time there is for a table never written; None when no commit among
    them was a run's (maintenance and restores only)."""
    table = open_delta(uri, storage)
    if table is None:
        return datetime.min.replace(tzinfo=UTC)
    for entry in table.history(among):
        if entry.get(NOTE_RUN_ID):
            return _committed_at(entry)
    return None


def version_at(uri: str, storage: Storage, moment: datetime) -> int:
    """The table's newest version committed at or before `moment`."""
    table = open_delta(uri, storage)
    if table is None:
        raise missing_table(uri)
    for entry in table.history():
        if _committed_at(entry) <= moment:
            return int(entry["version"])
    raise ConfigError(
        f"{uri} has no version as old as {moment.isoformat()}: `rainforest history` lists its "
        "versions and their times."
    )


def restore(
    uri: str,
    storage: Storage,
    *,
    version: int,
    marks: Sequence[str],
    notes: Mapping[str, str],
) -> Restored:
    """Make `version` the table's current state in a new commit; the log keeps every version.

    The `marks` (see `Lake.marks`) go back to the values `version` recorded, so that the table
    carries on from there (a source table takes the upstream changes since that version's
    high-water mark again); `MARK_RESTORED` records the new version for tables downstream.
    Raises `ConfigError` for a version that is current, in the future or no longer readable,
    and when files it needs were vacuumed. A log whose newest entries are damaged (see
    `LogDamagedError`) has them set aside first, when `version` is before them.
    """
    repaired = False
    try:
        table = open_delta(uri, storage)
    except LogDamagedError as damaged:
        if version > damaged.intact:
            raise ConfigError(f"{damaged} Version {version} is not before the damage.") from None
        _set_aside(uri, storage, damaged.damaged)
        table, repaired = open_delta(uri, storage), True
    if table is None:
        raise missing_table(uri)
    current = table.version()
    if current == 0 and not repaired:
        raise ConfigError(f"{uri} has only its first version: there is nothing to go back to.")
    if not (0 <= version < current or (repaired and version == current)):
        raise ConfigError(
            f"{uri} is at version {current}: restore one of 0-{current - 1} "
            "(`rainforest history` lists them)."
        )
    try:
        then = open_delta(uri, storage, version=version)
    except TableNotFoundError:
        then = None
    if then is None:
        raise ConfigError(
            f"Version {version} of {uri} is no longer in its log (cleaned up by maintenance): "
            "`rainforest history` lists the versions that can be restored."
        )
    _check_files_exist(uri, storage, version)
    recorded = {name: then.transaction_version(name) for name in marks}
    transactions = [
        Transaction(name, value) for name, value in recorded.items() if value is not None
    ]
    transactions.append(Transaction(MARK_RESTORED, current + 1))
    properties = CommitProperties(
        custom_metadata={NOTE_MODE: "RESTORE", **notes}, app_transactions=transactions
    )
    try:
        if version == current:
            # Setting the damage aside made `version` current again; the commit tells the
            # tables downstream, which may have read what the damaged entries held.
            schema = pa.schema(table.schema().to_arrow())
            table.create_write_transaction(
                [], mode="append", schema=schema, commit_properties=properties
            )
            metrics: dict[str, object] = {}
        else:
            metrics = table.restore(version, commit_properties=properties)
    except Exception as error:
        raise LakeWriteError(
            f"Restoring {uri} to version {version} failed, so the table keeps its current "
            f"version {current}: {error}"
        ) from error
    restored = open_delta(uri, storage)
    return Restored(
        restored=version,
        version=restored.version() if restored is not None else current + 1,
        files_added=int(str(metrics.get("numRestoredFile", 0))),
        files_removed=int(str(metrics.get("numRemovedFile", 0))),
    )


def _set_aside(uri: str, storage: Storage, versions: Sequence[int]) -> None:
    """Move damaged log entries out of the log, into `_damaged_log`, where readers do not look
    and a person still can."""
    filesystem, root = storage.filesystem(uri)
    filesystem.create_dir(f"{root}/{DAMAGED_FOLDER}", recursive=True)
    for version in versions:
        name = f"{version:020d}.json"
        filesystem.move(f"{root}/{LOG_FOLDER}/{name}", f"{root}/{DAMAGED_FOLDER}/{name}")


def _check_files_exist(uri: str, storage: Storage, version: int) -> None:
    filesystem, root = storage.filesystem(uri)
    snapshot = load_snapshot(uri, storage, table_format="delta", version=version)
    paths = [f"{root}/{file.path}" for file in snapshot.files]
    missing = [info.path for info in filesystem.get_file_info(paths) if not info.is_file]
    if missing:
        raise ConfigError(
            f"{len(missing)} of the {len(paths)} files of version {version} of {uri} are gone "
            f"(vacuumed), e.g. {missing[0]}: restore a later version (`rainforest history`)."
        )


def _committed_at(entry: Mapping[str, object]) -> datetime:
    """When a history entry was committed (its `timestamp`, milliseconds since the epoch)."""
    return datetime.fromtimestamp(int(str(entry["timestamp"])) / 1000, tz=UTC)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
