"""Tables copied from the upstream database: a change log per table, read as its current state.

A source table file only names the upstream table and its key::

    class Orders(SourceTable):
        \"\"\"Changes of upstream orders.\"\"\"

        spec = source_spec("orders", key="order_id")

Each run appends one batch: the rows whose `last_updated_ts` moved past the table's
high-water mark (less a lookback for clocks that disagree and transactions that commit
late), up to the end of the run's logical date, and a delete marker for every key that is
gone upstream. Whether any key is gone is known from counts: the keys alive in the log (a
mark of each batch's commit) and the rows upstream; only when they disagree are the keys of
both sides compared (one key-only scan of each), and when deletes do not explain the
difference, rows committed after the lookback had passed them are read by key. The batch,
the new high-water mark and the live keys are one Delta commit, so a run that dies never
skips or doubles a batch. The first run, and a run with `full_refresh`, take a full
snapshot instead. A run whose probe of the upstream table finds nothing the log lacks
(`SourceTable.changed_upstream`) skips the table: no Spark job, no commit. A table without a
trustworthy change timestamp declares `changed_column=None`: every run then reads it whole,
keeps only the rows that differ from the log's current state and compares every key.

Which database and schema it copies from is the run's `upstream`, resolved by whoever starts
the run, so the same table files read a local server, a replica or a test database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core.changes import (
    BATCH_ID,
    CHANGE,
    DELETE,
    MARK_BATCH,
    MARK_FULL_BATCH,
    MARK_HIGH_WATER,
    MARK_LIVE_KEYS,
    MARK_LOOKBACK_WINDOW,
    MARK_SNAPSHOT_CHECKED,
    ChangeMark,
    CheckedSnapshot,
    as_batch,
    checked_snapshot_batch,
    current_state,
    from_micros,
)
from etl.core.dataset import ETLDataSet, TableSpec
from etl.core.errors import ConfigError
from etl.core.incremental import BuildPlan, Changes, as_frame, restrict, restrict_to
from etl.core.lake import LakeLog, WriteResult, Written
from etl.core.lake.versions import NOTE_BATCH, NOTE_RUN_ID
from etl.core.names import row_count
from etl.core.table import Table, TableLookup
from etl.core.upstream import (
    EPOCH,
    ChangeProbe,
    ChangeWindow,
    Upstream,
    probe_changes,
    read_postgres_table,
)

if TYPE_CHECKING:
    from etl.core.settings import Settings

INGESTION_DATE = "etl_ingestion_date"
MISSED_KEYS_LISTED = 10_000
"""Missed keys up to this many are read by key; more, and the table is read whole."""
LINEAGE_COLUMNS: Mapping[str, str] = {
    "etl_inserted": "When the run that logged the change started (UTC).",
    "etl_run_id": "The run that logged the change.",
    "etl_source": "The upstream table, as `schema.table`.",
    INGESTION_DATE: "The logical date of the run that logged the change; the partition.",
    BATCH_ID: "The batch (one per run) that logged the change; a later batch knows better.",
    CHANGE: "`upsert` (the row as upstream had it) or `delete` (the key is gone upstream).",
}
"""The columns a source table adds to its upstream table's, and what they say."""
CHANGED_COLUMN = "last_updated_ts"
DEFAULT_LOOKBACK = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True)
class SourceSpec(TableSpec):
    """A source table's spec: a `TableSpec` plus how its changes are found upstream.

    `changed_column` is the upstream timestamp every insert and update sets; None extracts
    the table whole each run. `lookback` re-reads that much before the high-water mark, so
    a row committed late with an earlier timestamp is still caught; rows read again
    unchanged are not logged twice.
    """

    changed_column: str | None = CHANGED_COLUMN
    lookback: timedelta = DEFAULT_LOOKBACK

    @property
    def key(self) -> str:
        return self.primary_keys[0]


def source_spec(
    table: str,
    *,
    key: str,
    grain: str | None = None,
    changed_column: str | None = CHANGED_COLUMN,
    lookback: timedelta = DEFAULT_LOOKBACK,
) -> SourceSpec:
    """The spec every source table shares: bronze layer, a change log of one batch per run."""
    return SourceSpec(
        name=table,
        layer="bronze",
        grain=grain or f"one change of an upstream {table} row per batch",
        primary_keys=(key, BATCH_ID),
        partition_by=(INGESTION_DATE,),
        mode="append",
        description=f"Change log of upstream table {table}, with lineage columns.",
        changed_column=changed_column,
        lookback=lookback,
    )


@dataclass(frozen=True, kw_only=True)
class BatchPlan:
    """What this run's batch is: a full snapshot replacing the log, or the changes since
    `previous` (where the log stood) appended."""

    mark: ChangeMark
    previous: ChangeMark | None = None
    probe: ChangeProbe | None = None
    """What planning learned of the upstream table: its rows and the keys changed since the
    window's end, against which the log's live keys are counted to find deletes."""

    @property
    def full(self) -> bool:
        return self.previous is None


class SourceTable(Table):
    """A bronze table: the changes of the upstream table of the same name, batch by batch."""

    spec: ClassVar[SourceSpec]
    reads_database: ClassVar[bool] = True
    batch: BatchPlan | None = None
    """The batch this build writes; `plan` decides it from the log's marks."""
    rows_read: int | None = None
    """Rows read from upstream for the batch (the key scan for deletes aside)."""
    live_keys: int | None = None
    """Keys alive in the log after this batch, when extracting found them out."""

    @classmethod
    def mark_names(cls, registry: TableLookup) -> tuple[str, ...]:
        return (
            MARK_BATCH,
            MARK_HIGH_WATER,
            MARK_FULL_BATCH,
            MARK_LIVE_KEYS,
            MARK_LOOKBACK_WINDOW,
            MARK_SNAPSHOT_CHECKED,
        )

    @classmethod
    def expected_rows(
        cls, upstream_rows: Mapping[str, float], source_rows: Mapping[str, int]
    ) -> float:
        return float(source_rows.get(cls.spec.name, 0))

    @property
    def source_name(self) -> str:
        """`schema.table` upstream, as recorded in the lineage column `etl_source`."""
        return f"{self._upstream().schema}.{self.spec.name}"

    def plan(self) -> BuildPlan:
        """Decide the batch: a full snapshot on the first run (or when asked), else the changes
        since the log's high-water mark, or nothing when no upstream row changed since."""
        context = self.context
        recorded = self.recorded_mark(context.lake, context.settings)
        previous = None if context.full_refresh else recorded
        probe, warnings = self.probe(self._upstream(), previous, until=context.run_date_end)
        self.warnings.extend(warnings)
        plan, self.batch = self.decide(
            recorded, probe, full_refresh=context.full_refresh, force=context.force
        )
        return plan

    @classmethod
    def decide(
        cls,
        recorded: ChangeMark | None,
        probe: ChangeProbe | None,
        *,
        full_refresh: bool = False,
        force: bool = False,
    ) -> tuple[BuildPlan, BatchPlan | None]:
        """The build and its batch, from where the log stands (`recorded`) and what `probe`
        found upstream (None: the table has no change timestamp)."""
        window = probe.lookback_window if probe is not None else None
        if recorded is None or full_refresh:
            batch_id = (recorded.batch_id if recorded else 0) + 1
            mark = ChangeMark(
                batch_id=batch_id,
                high_water_mark=probe.high_water_mark if probe else EPOCH,
                full_batch_id=batch_id,
                lookback_window=window,
            )
            reason = "full refresh asked for" if recorded else "never built"
            return BuildPlan(mode="full", reason=reason, label="snapshot"), BatchPlan(mark=mark)
        why = cls.changed_upstream(recorded, probe)
        if why is None:
            if not force:
                reason = "no upstream row changed since its last batch"
                return BuildPlan(mode="up_to_date", reason=reason, label="changes"), None
            why = "forced by --force"
        mark = ChangeMark(
            batch_id=recorded.batch_id + 1,
            high_water_mark=probe.high_water_mark if probe else recorded.high_water_mark,
            full_batch_id=recorded.full_batch_id,
            lookback_window=window,
            snapshot_checked=recorded.snapshot_checked,
        )
        batch = BatchPlan(mark=mark, previous=recorded, probe=probe)
        return BuildPlan(mode="full", reason=why, label="changes"), batch

    @classmethod
    def changed_upstream(cls, recorded: ChangeMark, probe: ChangeProbe | None) -> str | None:
        """Why the upstream table may hold changes the log lacks, or None when it cannot: no
        row stamped after the high-water mark, none committed late within the lookback
        before it, and as many rows upstream as keys alive in the log (none deleted)."""
        if probe is None:
            return "it has no change timestamp: it is read whole and compared every run"
        if probe.changed_since_mark:
            return (
                f"{row_count(probe.changed_since_mark)} changed upstream since its high-water mark "
                f"{recorded.high_water_mark:%Y-%m-%d %H:%M:%S}"
            )
        if probe.lookback_window != recorded.lookback_window:
            return (
                f"rows stamped within the lookback ({cls.spec.lookback}) before its "
                "high-water mark changed since its last batch"
            )
        if probe.changed_after:
            return (
                f"{row_count(probe.changed_after)} changed upstream after the logical date: "
                "deletes are looked for among the other keys"
            )
        if recorded.live_keys != probe.rows:
            live = "unknown" if recorded.live_keys is None else f"{recorded.live_keys:,}"
            return f"upstream holds {probe.rows:,} rows and the log {live} live keys"
        return None

    def extract(self) -> dict[str, DataFrame]:
        """The changed rows; for an incremental batch also the log's state of their keys (to
        drop rows read again unchanged) and the keys gone upstream, when any is."""
        upstream = self._upstream()
        batch = self._batch_plan()
        spec = self.spec
        if batch.previous is None:
            return {"source": self._read_upstream(upstream)}
        key = spec.key
        if spec.changed_column is None:
            source = self._read_upstream(upstream)
            log, snapshot = self._log()
            known = current_state(log, key, snapshot=snapshot)
            return {"source": source, "known": known, "deleted": self._reconciled(upstream, log)}
        window = ChangeWindow(
            column=spec.changed_column,
            after=batch.previous.high_water_mark - spec.lookback,
            until=self.context.run_date_end,
        )
        # Read once: the batch is compared with the log's state of its own keys, and a
        # second read of a database that moves could see other rows.
        source = self._read_upstream(upstream, window=window).localCheckpoint()
        logged = (key, spec.changed_column, BATCH_ID, CHANGE)
        log = self.read_changes(columns=logged).curr_data
        # Only the batch's keys have their state computed (a key's state depends on its own
        # log rows alone); the rest of the history is scanned, never sorted.
        known = _state_of(log, key, source.select(key)).localCheckpoint()
        deleted, missed, self.live_keys = self._reconciled_counts(
            upstream, log, source, known, batch
        )
        if missed is not None:
            # Keys the log lacks have no state in `known`: every missed row is logged.
            source = source.unionByName(missed)
        inputs = {"source": source, "known": known}
        return inputs if deleted is None else {**inputs, "deleted": deleted}

    def transform(  # type: ignore[override]
        self,
        source: DataFrame,
        known: DataFrame | None = None,
        deleted: DataFrame | None = None,
    ) -> DataFrame:
        """The batch: rows new or changed against the log's state of their keys (`known`), and
        markers for the keys `deleted` upstream. Without a state (a full snapshot) every
        source row is logged."""
        upserts = source
        if known is not None:
            if self.spec.changed_column is None:
                upserts = source.subtract(known.select(*source.columns))
            else:
                upserts = source.join(known, [self.spec.key, self.spec.changed_column], "left_anti")
        return as_batch(
            upserts,
            deleted,
            batch_id=self._batch_plan().mark.batch_id,
            lineage={
                "etl_inserted": self.context.run_ts,
                "etl_run_id": self.context.run_id,
                "etl_source": self.source_name,
                INGESTION_DATE: self.context.run_date,
            },
        )

    def _reconciled_counts(
        self,
        upstream: Upstream,
        log: DataFrame,
        source: DataFrame,
        known: DataFrame,
        batch: BatchPlan,
    ) -> tuple[DataFrame | None, DataFrame | None, int]:
        """The keys alive in the log but gone upstream (None when counts show there are none),
        the upstream rows the log missed (None when there are none), and the keys alive after
        the batch.

        Every upstream row changed up to the window's end is in the log or the batch, so the
        keys alive after the batch are the upstream rows, less those changed since the
        window's end that the log does not know, plus the keys deleted upstream. Counting
        both sides therefore tells how many keys are gone; only when some are (or a count is
        unknown) are all keys compared. A row committed later than the lookback allows, stamped
        behind the window, breaks that rule; when the counts still disagree once the deletes
        are found, the upstream keys the log lacks are looked for and their rows logged."""
        key = self.spec.key
        live_before = batch.previous.live_keys if batch.previous is not None else None
        if live_before is None:
            live_before = current_state(log, key).count()
        alive = live_before + source.count() - known.count()
        probe = batch.probe
        unknown_after: int | None = None
        if probe is not None and probe.keys_after is not None:
            after = probe.keys_after
            unknown_after = len(after)
            if after:
                wanted = as_frame(log, key, list(after))
                known_after = _state_of(log, key, wanted).select(key)
                batch_after = restrict_to(source.select(key), key, wanted)
                unknown_after -= known_after.unionByName(batch_after).distinct().count()
            if alive == probe.rows - unknown_after:
                return None, None, alive
        deleted = self._reconciled(upstream, log).localCheckpoint()
        alive -= deleted.count()
        if probe is not None and unknown_after is not None and alive == probe.rows - unknown_after:
            return deleted, None, alive
        missed = self._missed(upstream, log, source.select(key))
        if missed is None:
            return deleted, None, alive
        return deleted, missed, alive + missed.count()

    def _missed(
        self, upstream: Upstream, log: DataFrame, batch_keys: DataFrame
    ) -> DataFrame | None:
        """The upstream rows changed up to the window's end whose keys are neither alive in the
        log nor in the batch: rows committed after the lookback had passed them (None when
        there are none). Only the log's keys that ever had a delete marker are folded."""
        key, column = self.spec.key, self.spec.changed_column
        assert column is not None, "a table without change timestamps is compared whole"
        until = ChangeWindow(column=column, until=self.context.run_date_end)
        stamped = self._read_upstream(upstream, window=until, columns=(key,), counted=False)
        ever_deleted = log.where(F.col(CHANGE) == DELETE).select(key).distinct()
        alive_again = current_state(log.join(ever_deleted, key, "left_semi"), key).select(key)
        dead = ever_deleted.join(alive_again, key, "left_anti")
        unlogged = stamped.join(batch_keys, key, "left_anti")
        missing = (
            unlogged.join(log.select(key).distinct(), key, "left_anti")
            .unionByName(unlogged.join(dead, key, "left_semi"))
            .localCheckpoint()
        )
        listed = [row[0] for row in missing.limit(MISSED_KEYS_LISTED + 1).collect()]
        if not listed:
            return None
        many = len(listed) > MISSED_KEYS_LISTED
        self.warnings.append(
            f"Logged {'over ' + row_count(MISSED_KEYS_LISTED) if many else row_count(len(listed))}"
            f" of {self.source_name} committed after the lookback ({self.spec.lookback}) had "
            "passed their change time; widen source_spec(lookback=...) if this recurs."
        )
        if many:
            rows = self._read_upstream(upstream, window=until, counted=False)
            return rows.join(missing, key, "left_semi").localCheckpoint()
        return self._read_upstream(
            upstream, window=until, keys=listed, counted=False
        ).localCheckpoint()

    def _reconciled(self, upstream: Upstream, log: DataFrame) -> DataFrame:
        """The keys alive in the log that are not upstream, by comparing every key of both.
        Not broadcast like the batch's keys: a mass delete upstream can name many keys."""
        key = self.spec.key
        upstream_keys = self._read_upstream(upstream, columns=(key,), counted=False)
        gone = log.select(key).distinct().join(upstream_keys, key, "left_anti")
        return current_state(log.join(gone, key, "left_semi"), key).select(key)

    def write(
        self, dataset: ETLDataSet, *, verify: Callable[[Written], None] | None = None
    ) -> WriteResult:
        """Append the batch (or replace the log with a snapshot) with its marks; a batch
        without a change is not committed, so readers downstream see nothing new."""
        plan = self._batch_plan()

        def marks(written: int) -> dict[str, int]:
            # A snapshot's rows are its live keys, one each, when its primary key was checked.
            checked = self.context.check_quality
            if plan.full:
                mark = replace(plan.mark, live_keys=written if checked else None)
                return replace(mark, snapshot_checked=checked).marks()
            return replace(plan.mark, live_keys=self.live_keys).marks()

        return self.context.lake.write(
            dataset.curr_data,
            dataset.storage_path,
            mode="overwrite" if plan.full else "append",
            partition_by=self.spec.partition_by,
            marks=marks,
            verify=verify,
            commit_empty=plan.full,
            # A batch holds one ingestion date, read in key ranges: each range is a file.
            gather=tuple(self.spec.partition_by) != (INGESTION_DATE,),
            notes={
                **plan.mark.notes(),
                NOTE_BATCH: "full" if plan.full else "changes",
                NOTE_RUN_ID: self.context.run_id,
            },
        )

    def read(
        self,
        *,
        partition_values: Mapping[str, object] | None = None,
        version: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> ETLDataSet:
        """The current state per key (as of `version`): each live key's latest row.

        The log itself, batch by batch, is `read_changes`.
        """
        if partition_values is not None:
            raise ConfigError(
                f"{self.spec.qualified_name} is a change log: read() gives its current state "
                "per key. Read a day's batches with read_changes(partition_values=...)."
            )
        state = self._state(version=version, columns=columns)
        return ETLDataSet(spec=self.spec, curr_data=state, storage_path=self.storage_path)

    def _state(
        self, *, version: int | None = None, columns: Sequence[str] | None = None
    ) -> DataFrame:
        """Each live key's latest row as of `version` (default: the latest). A log that is one
        checked snapshot already holds one row per key, so only the batches after it are
        sorted by key."""
        wanted = None if columns is None else [*columns, BATCH_ID, CHANGE]
        changes, snapshot = self._log(version=version, columns=wanted)
        state = current_state(changes, self.spec.key, snapshot=snapshot)
        return state if columns is None else state.select(*columns)

    def _log(
        self, *, version: int | None = None, columns: Sequence[str] | None = None
    ) -> tuple[DataFrame, CheckedSnapshot | None]:
        """The log's rows and its checked snapshot (None when it has none), both of one
        version (default: the latest): a snapshot committed between two reads of the latest
        would pass the rows of a log of several batches for one snapshot."""
        lake, uri = self.context.lake, self.storage_path
        names = (MARK_BATCH, MARK_FULL_BATCH, MARK_LIVE_KEYS, MARK_SNAPSHOT_CHECKED)
        if version is None:
            version, marks = lake.state(uri, names)
        else:
            marks = lake.marks(uri, names, version=version)
        rows = self.read_changes(version=version, columns=columns).curr_data
        batch = checked_snapshot_batch(marks)
        if batch is None:
            return rows, None
        after = (
            0
            if marks.get(MARK_BATCH) == batch
            else lake.rows_above(uri, BATCH_ID, batch, version=version)
        )
        return rows, CheckedSnapshot(batch_id=batch, rows_after=after)

    def changes_since(self, version: int) -> Changes | None:
        """Keys logged in batches after the one `version` holds, before and after: their
        state at that batch and now. None when a full snapshot replaced the log since."""
        lake = self.context.lake
        names = (MARK_BATCH, MARK_FULL_BATCH)
        then = lake.marks(self.storage_path, names, version=version)
        now = lake.marks(self.storage_path, names)
        if len(then) < len(names) or len(now) < len(names):
            return None
        files = lake.files_changed(self.storage_path, version)
        if files is None or now[MARK_FULL_BATCH] > then[MARK_BATCH]:
            return None
        key = self.spec.key
        log = self.read_changes().curr_data
        # Later batches are in the files added since: only their partitions are read for keys.
        chosen = files.partitions if files.partition_by else None
        added = self.read_changes(columns=[key, BATCH_ID], partitions=chosen).curr_data
        changed = added.where(F.col(BATCH_ID) > then[MARK_BATCH]).select(key).distinct()
        keys = [row[0] for row in changed.collect()]
        # Kept for the plan's questions, so that none of them reads the log again.
        touched = restrict(log, key, keys).localCheckpoint()
        return Changes(
            before=current_state(touched.where(F.col(BATCH_ID) <= then[MARK_BATCH]), key),
            after=current_state(touched, key),
            rows_read=files.rows,
        )

    def input_rows(self) -> int | None:
        """Rows this build read from upstream, not the log's: what the summary reports."""
        return self.rows_read

    def rows_where(self, column: str, wanted: DataFrame) -> DataFrame:
        """The current state of the keys in `wanted`, computed from their own log rows only.

        A key's state depends on its log rows alone, so restricting the log first gives the
        same rows; Spark cannot push the restriction below the state's window and filter
        itself, and would otherwise sort every key's history to keep a few."""
        if column != self.spec.key:
            return super().rows_where(column, wanted)
        return _state_of(self.read_changes().curr_data, column, wanted)

    def lookup_rows(self) -> DataFrame:
        """Every version of every row in the log: a superset of any state, and no window to
        compute, for finding which rows a change downstream touches."""
        return self.read_changes().curr_data

    def read_changes(
        self,
        *,
        partition_values: Mapping[str, object] | None = None,
        partitions: Sequence[Mapping[str, object]] | None = None,
        version: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> ETLDataSet:
        """The log: every batch's rows with their change type (`etl_change`) and batch id;
        of one partition (`partition_values`) or several (`partitions`) when asked."""
        data = self.context.lake.read(
            self.storage_path,
            version=version,
            columns=list(dict.fromkeys(columns)) if columns is not None else None,
            partition_values=partition_values,
            partitions=partitions,
        )
        return ETLDataSet(spec=self.spec, curr_data=data, storage_path=self.storage_path)

    @classmethod
    def recorded_mark(cls, lake: LakeLog, settings: Settings) -> ChangeMark | None:
        """Where the log stands, or None when there is no log yet (or it predates marks)."""
        names = (MARK_BATCH, MARK_HIGH_WATER)
        marks = lake.marks(
            cls.uri_in(settings),
            (*names, MARK_FULL_BATCH, MARK_LIVE_KEYS, MARK_LOOKBACK_WINDOW, MARK_SNAPSHOT_CHECKED),
        )
        if not all(name in marks for name in names):
            return None
        live = marks.get(MARK_LIVE_KEYS, -1)
        window = marks.get(MARK_LOOKBACK_WINDOW, -1)
        return ChangeMark(
            batch_id=marks[MARK_BATCH],
            high_water_mark=from_micros(marks[MARK_HIGH_WATER]),
            full_batch_id=marks.get(MARK_FULL_BATCH, 0),
            live_keys=live if live >= 0 else None,
            lookback_window=window if window >= 0 else None,
            snapshot_checked=checked_snapshot_batch(marks) is not None,
        )

    @classmethod
    def probe(
        cls, upstream: Upstream, previous: ChangeMark | None, *, until: datetime
    ) -> tuple[ChangeProbe | None, list[str]]:
        """What the change column says since `previous` (None: a snapshot is taken), checked
        before it is trusted; and a warning when the source's clock moved back behind the
        high-water mark (changes stamped before it would be missed)."""
        spec = cls.spec
        column = spec.changed_column
        if column is None:
            return None, []
        source = f"{upstream.schema}.{spec.name}"
        probe = probe_changes(
            upstream,
            table=spec.name,
            column=column,
            until=until,
            key=spec.key,
            mark=previous.high_water_mark if previous is not None else None,
            lookback=spec.lookback,
        )
        declare = (
            f'declare source_spec("{spec.name}", key="{spec.key}", '
            "changed_column=None) to extract it whole every run"
        )
        if not probe.has_column:
            raise ConfigError(
                f"{source} has no column {column}, so its changes cannot be found: "
                f"name its change timestamp with changed_column=..., or {declare}."
            )
        if probe.nulls:
            raise ConfigError(
                f"{source} has {probe.nulls} rows with {column} null, so their "
                f"changes cannot be found: fill {column} upstream, or {declare}."
            )
        warnings = []
        if (
            previous is not None
            and probe.newest is not None
            and probe.newest < previous.high_water_mark
        ):
            warnings.append(
                f"The high-water mark of {spec.qualified_name} "
                f"({previous.high_water_mark.isoformat()}) is ahead of the newest change in "
                f"{source} ({probe.newest.isoformat()}): did its clock move back? "
                "Changes stamped before the mark are missed; run with --full-refresh "
                "to take a full snapshot."
            )
        return probe, warnings

    def _read_upstream(
        self,
        upstream: Upstream,
        *,
        window: ChangeWindow | None = None,
        columns: Sequence[str] | None = None,
        keys: Sequence[object] | None = None,
        counted: bool = True,
    ) -> DataFrame:
        """The upstream rows; `counted` reads are the build's rows read."""
        read = read_postgres_table(
            self.context.spark,
            upstream,
            table=self.spec.name,
            key=self.spec.key,
            jdbc_jar=self.context.settings.jdbc_jar,
            window=window,
            columns=columns,
            keys=keys,
        )
        if counted:
            self.rows_read = read.count
        return read.data

    def _batch_plan(self) -> BatchPlan:
        if self.batch is None:
            raise RuntimeError("plan() decides the batch; call it before extract or write.")
        return self.batch

    def _upstream(self) -> Upstream:
        upstream = self.context.upstream
        if upstream is None:
            raise ConfigError(
                f"{self.spec.qualified_name} copies an upstream table, but this run was started "
                "without an upstream database: pass `upstream=` to the run's context."
            )
        return upstream


def _state_of(log: DataFrame, key: str, wanted: DataFrame) -> DataFrame:
    """The current state of the keys in `wanted` (a few), from their own log rows only."""
    return current_state(restrict_to(log, key, wanted), key)
