"""Change logs: tables that keep every batch of changes and read as the current state per key.

A bronze table appends, per run, the upstream rows that changed plus a delete marker for each
key that disappeared upstream; `current_state` folds that log back into one row per live key.
Which batch a table has reached and how far its source's changes were taken (the high-water
mark) are marks of the Delta commit that wrote the batch, so they move with the rows or not
at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

CHANGE = "etl_change"
"""`upsert` (the row as the source had it) or `delete` (the key is gone; other columns null)."""
BATCH_ID = "etl_batch_id"
"""1, 2, 3...: the run that recorded the change; a later batch knows better."""
UPSERT = "upsert"
DELETE = "delete"

MARK_BATCH = "rainforest.batch_id"
MARK_HIGH_WATER = "rainforest.high_water_mark"
"""Microseconds since the epoch (UTC): every source change up to it is in the log."""
MARK_FULL_BATCH = "rainforest.full_batch_id"
"""The batch that last replaced the whole log with a full snapshot: a reader that consumed
an earlier batch cannot follow the log's changes from there."""
MARK_LIVE_KEYS = "rainforest.live_keys"
"""Keys alive in the log's current state after the batch, or -1 where not kept: with the
source's row count it tells whether any key was deleted upstream, without comparing keys."""
MARK_SNAPSHOT_CHECKED = "rainforest.snapshot_checked"
"""1 when the primary key of the log's last full snapshot was checked unique as the snapshot
was written, else 0: its rows are then one per key, and reading the current state folds only
the batches after it."""
MARK_LOOKBACK_WINDOW = "rainforest.lookback_window"
"""A fingerprint of the source rows stamped within the lookback before the high-water mark
(see `etl.core.upstream.ChangeProbe`), or -1 where not kept: a row committed late with an
earlier stamp changes it, so a table is never judged up to date past such a row."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class ChangeMark:
    """Where a change log stands: its last batch, its source's high-water mark and the batch
    of its last full snapshot."""

    batch_id: int
    high_water_mark: datetime
    full_batch_id: int
    live_keys: int | None = None
    """Keys alive after the batch; None when unknown."""
    lookback_window: int | None = None
    """The source's `MARK_LOOKBACK_WINDOW` when the batch was planned; None when unknown."""
    snapshot_checked: bool = False
    """Whether the full snapshot's key was checked unique (`MARK_SNAPSHOT_CHECKED`)."""

    def marks(self) -> dict[str, int]:
        """As Delta app transactions, to commit with the batch."""
        return {
            MARK_BATCH: self.batch_id,
            MARK_HIGH_WATER: to_micros(self.high_water_mark),
            MARK_FULL_BATCH: self.full_batch_id,
            MARK_LIVE_KEYS: -1 if self.live_keys is None else self.live_keys,
            MARK_LOOKBACK_WINDOW: -1 if self.lookback_window is None else self.lookback_window,
            MARK_SNAPSHOT_CHECKED: int(self.snapshot_checked),
        }

    def notes(self) -> dict[str, str]:
        """As words in the commit's history entry."""
        return {
            MARK_BATCH: str(self.batch_id),
            MARK_HIGH_WATER: self.high_water_mark.astimezone(UTC).isoformat(),
        }


def to_micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


FOLD_WHOLE_LOG_BEYOND = 1_000_000
"""Rows of batches after a checked snapshot beyond which the whole log is folded: below it,
their keys are broadcast to drop the snapshot rows they replace."""


@dataclass(frozen=True, kw_only=True)
class CheckedSnapshot:
    """A log's last full snapshot, its key checked unique when written, and the rows of the
    batches after it (from the log's file statistics: never fewer than there are)."""

    batch_id: int
    rows_after: int | None
    """None when the statistics cannot tell."""

    @property
    def few_after(self) -> bool:
        return self.rows_after is not None and self.rows_after <= FOLD_WHOLE_LOG_BEYOND


def current_state(
    changes: DataFrame, key: str, *, snapshot: CheckedSnapshot | None = None
) -> DataFrame:
    """One row per key that is alive after the last batch: its latest upsert, without `CHANGE`.

    Within one batch a delete outranks an upsert of the same key: deletes are found by a key
    scan that runs after the changed rows were read, so it saw the source later. A log whose
    batches up to a checked `snapshot` hold one upsert per key needs only the batches after it
    sorted by key: the snapshot's other rows are its state as they are, so a day's state costs
    a scan of the snapshot and a sort of the days since, not a sort of the whole history.
    """
    if snapshot is None or not snapshot.few_after:
        return _folded(changes, key)
    in_snapshot = F.col(BATCH_ID) <= snapshot.batch_id
    upserts = changes.where(in_snapshot & (F.col(CHANGE) == UPSERT)).drop(CHANGE)
    if snapshot.rows_after == 0:
        return upserts
    later = changes.where(~in_snapshot)
    replaced = F.broadcast(later.select(key))
    return upserts.join(replaced, key, "left_anti").unionByName(_folded(later, key))


def _folded(changes: DataFrame, key: str) -> DataFrame:
    """Each key's latest change, kept when it is an upsert: a window over every key's rows."""
    latest_first = Window.partitionBy(key).orderBy(
        F.col(BATCH_ID).desc(), (F.col(CHANGE) == DELETE).desc()
    )
    return (
        changes.withColumn("_rank", F.row_number().over(latest_first))
        .where((F.col("_rank") == 1) & (F.col(CHANGE) == UPSERT))
        .drop("_rank", CHANGE)
    )


def checked_snapshot_batch(marks: Mapping[str, int]) -> int | None:
    """The batch of the log's last full snapshot when the marks say its key was checked unique
    as it was written, else None. Logs written before `MARK_SNAPSHOT_CHECKED` existed count
    as checked only while the snapshot is their last batch and its live keys were counted,
    which a write does only when the key's uniqueness rule passed."""
    full = marks.get(MARK_FULL_BATCH)
    if full is None:
        return None
    if marks.get(MARK_SNAPSHOT_CHECKED) == 1:
        return full
    alone = marks.get(MARK_BATCH) == full and marks.get(MARK_LIVE_KEYS, -1) >= 0
    return full if alone else None


def as_batch(
    upserts: DataFrame, deleted_keys: DataFrame | None, *, batch_id: int, lineage: dict[str, object]
) -> DataFrame:
    """The rows of one batch: `upserts` whole and a marker (key only) for each deleted key,
    each with the batch id, its change type and the `lineage` columns."""

    def stamped(rows: DataFrame, change: str) -> DataFrame:
        extra = {**lineage, CHANGE: change}
        return rows.select(
            "*",
            *(F.lit(value).alias(name) for name, value in extra.items()),
            F.lit(batch_id).cast("bigint").alias(BATCH_ID),
        )

    batch = stamped(upserts, UPSERT)
    if deleted_keys is None:
        return batch
    markers = stamped(deleted_keys, DELETE)
    return batch.unionByName(markers, allowMissingColumns=True)
