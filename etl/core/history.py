"""Dimension history (SCD type 2) from a source table's change log.

A history table file names its source table, the key, and the columns whose changes make a
new version (renamed as the table shows them)::

    class DimProductHistory(HistoryTable):
        \"\"\"Every version of each product.\"\"\"

        spec = history_spec(
            "dim_product_history",
            of="product",
            key="product_id",
            tracked={"product_name": "name", "price_usd": "price"},
        )

Each row is one version of a key: the tracked columns as they were, `version` (1, 2, ...),
`valid_from` (inclusive), `valid_to` (exclusive; null while current) and `is_current`. A
version starts when upstream stamped the change (`last_updated_ts`); the first one known
starts when the row was created upstream. A change of untracked columns only makes no new
version. A key deleted upstream ends its last version when the day of the run that found
it gone ends (the run's logical date), and has no current row.

The versions are those the log holds: one per change a run saw, so a row changed twice
between two runs shows its last change only. A history also keeps what it held before: a
`--full-refresh` replaces the change log with a snapshot, and the history still holds every
version it saw before, as a dbt snapshot does. It starts over only when its own folder is
removed, or when its columns changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from typing import ClassVar

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from etl.core.changes import BATCH_ID, CHANGE, DELETE, UPSERT
from etl.core.dataset import TableSpec
from etl.core.errors import ConfigError
from etl.core.quality.rules import Rule, expect
from etl.core.source_table import CHANGED_COLUMN, INGESTION_DATE, SourceTable
from etl.core.table import Table

VERSION = "version"
VALID_FROM = "valid_from"
VALID_TO = "valid_to"
IS_CURRENT = "is_current"
PREVIOUS = "previous"
"""The input holding the history as it was before this build (absent on the first)."""
CREATED_COLUMN = "created_ts"
HISTORY_DESCRIPTIONS = {
    VERSION: "1 for the first version known of the key, then 2, 3, ...",
    VALID_FROM: "When the version started: the upstream change's stamp; for the first, "
    "when the row was created upstream (UTC).",
    VALID_TO: "When the next version started, or when the day of the run that found the key "
    "deleted ended; null while current.",
    IS_CURRENT: "Whether this is the key's version now (false for every version of a deleted key).",
}


@dataclass(frozen=True, kw_only=True)
class HistorySpec(TableSpec):
    """A history table's spec: a `TableSpec` plus the source table and what is tracked."""

    source: str
    key: str
    tracked: tuple[tuple[str, str], ...]
    """(column in the history, column in the source) for each tracked column."""
    changed_column: str = CHANGED_COLUMN
    created_column: str | None = CREATED_COLUMN

    @property
    def tracked_columns(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.tracked)


def history_spec(
    name: str,
    *,
    of: str,
    key: str,
    tracked: Mapping[str, str] | Sequence[str],
    grain: str | None = None,
    primary_keys: tuple[str, ...] | None = None,
    also_reads: tuple[str, ...] = (),
    column_descriptions: Mapping[str, str] | None = None,
    rules: tuple[Rule, ...] = (),
) -> HistorySpec:
    """The spec of the history of source table `of`: one row per version of each `key`.

    `tracked` maps the history's column names to the source's (a sequence keeps the names).
    `also_reads` are other tables `HistoryTable.shape` joins in, such as a key mapping.
    """
    named = tracked if isinstance(tracked, Mapping) else {column: column for column in tracked}
    return HistorySpec(
        name=name,
        grain=grain or f"one row per version of each upstream {of} row",
        primary_keys=primary_keys or (key, VALID_FROM),
        upstream=(of, *also_reads),
        description=f"Every version of upstream {of} rows (SCD type 2), from their change log.",
        rules=(
            expect(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                column_A=VALID_TO,
                column_B=VALID_FROM,
                ignore_row_if="either_value_is_missing",
                name="versions_end_after_they_start",
                description="valid_to > valid_from",
            ),
            *rules,
        ),
        column_descriptions={**HISTORY_DESCRIPTIONS, **(column_descriptions or {})},
        source=of,
        key=key,
        tracked=tuple(named.items()),
    )


class HistoryTable(Table):
    """A dimension's history: the versions its source's change log holds, added to the
    versions the table held before."""

    spec: ClassVar[HistorySpec]

    @classmethod
    def is_traceable(cls) -> bool:
        """Its own `extract` reads only lake tables (the source's log and the history), so a
        build that no upstream change reached is skipped."""
        return True

    def extract(self) -> dict[str, DataFrame]:
        """The source's whole change log (not its current state), the other inputs' current
        rows, and the history as it is now (`PREVIOUS`) when there is one to keep."""
        spec, registry = self.spec, self.context.registry
        source = registry.get(spec.source)
        if not issubclass(source, SourceTable):
            raise ConfigError(
                f"{spec.qualified_name} keeps the history of {spec.source}, which is not a "
                "source table: history_spec(of=...) takes a bronze table's name."
            )
        inputs = {
            name: registry.get(name)(self.context).read().curr_data
            for name in spec.upstream
            if name != spec.source
        }
        inputs[spec.source] = source(self.context).read_changes().curr_data
        previous = self._previous()
        return inputs if previous is None else {**inputs, PREVIOUS: previous}

    def transform(self, **inputs: DataFrame) -> DataFrame:
        spec = self.spec
        others = {k: v for k, v in inputs.items() if k not in (spec.source, PREVIOUS)}
        versions = history(
            inputs[spec.source], inputs.get(PREVIOUS), spec, gone_after=self.context.run_date
        )
        return self.shape(versions, **others)

    def shape(self, versions: DataFrame, **others: DataFrame) -> DataFrame:
        """The versions as the table holds them; a table that `also_reads` other tables joins
        them in here."""
        return versions

    def _previous(self) -> DataFrame | None:
        """The history as its latest version holds it, if it has the columns to keep: a
        history whose tracked columns changed starts over from the log."""
        lake = self.context.lake
        version = lake.version(self.storage_path)
        if version is None:
            return None
        held = self.read(version=version).curr_data
        wanted = {self.spec.key, *self.spec.tracked_columns, VALID_FROM, VALID_TO}
        return held if wanted <= set(held.columns) else None


def history(
    log: DataFrame, previous: DataFrame | None, spec: HistorySpec, *, gone_after: date
) -> DataFrame:
    """The versions of each key from `log` (a change log, or any frame of source rows) and
    the `previous` history; keys missing from the log whose last version was current end
    when day `gone_after` ends."""
    key, tracked = spec.key, spec.tracked_columns
    logged = _logged_versions(log, spec)
    candidates = logged
    if previous is not None:
        kept = previous.select(
            key,
            *tracked,
            VALID_FROM,
            F.lit(-1).cast("long").alias("_batch"),
            F.col(VALID_FROM).alias("_created"),
        )
        candidates = logged.unionByName(kept)
    in_time = Window.partitionBy(key).orderBy(VALID_FROM)
    # One row per start (the log's latest batch knows best), then runs of equal values merged.
    newest_first = Window.partitionBy(key, VALID_FROM).orderBy(F.col("_batch").desc())
    started = (
        candidates.withColumn("_rank", F.row_number().over(newest_first))
        .where(F.col("_rank") == 1)
        .withColumn("_created", F.min("_created").over(Window.partitionBy(key)))
    )
    changed = reduce(
        lambda any_change, column: any_change | ~_same_as_before(column, in_time),
        tracked,
        F.lag(VALID_FROM).over(in_time).isNull(),
    )
    versions = (
        started.withColumn("_changed", changed)
        .where(F.col("_changed"))
        .withColumn(VERSION, F.row_number().over(in_time))
    )
    ends = _ends(log, previous, spec, gone_after)
    last = F.col(VERSION) == F.max(VERSION).over(Window.partitionBy(key))
    dated = versions.join(ends, key, "left").select(
        key,
        *tracked,
        VERSION,
        F.when(F.col(VERSION) == 1, F.least(VALID_FROM, "_created"))
        .otherwise(F.col(VALID_FROM))
        .alias(VALID_FROM),
        F.when(last, F.col("_ended")).otherwise(F.lead(VALID_FROM).over(in_time)).alias(VALID_TO),
    )
    return dated.withColumn(IS_CURRENT, F.col(VALID_TO).isNull())


def _logged_versions(log: DataFrame, spec: HistorySpec) -> DataFrame:
    upserts = log.where(F.col(CHANGE) == UPSERT) if CHANGE in log.columns else log
    created = (
        F.col(spec.created_column)
        if spec.created_column is not None and spec.created_column in log.columns
        else F.col(spec.changed_column)
    )
    batch = F.col(BATCH_ID) if BATCH_ID in log.columns else F.lit(0)
    return upserts.where(F.col(spec.changed_column).isNotNull()).select(
        spec.key,
        *(F.col(source).alias(name) for name, source in spec.tracked),
        F.col(spec.changed_column).alias(VALID_FROM),
        batch.cast("long").alias("_batch"),
        F.least(created, F.col(spec.changed_column)).alias("_created"),
    )


def _same_as_before(column: str, in_time: Window) -> Column:
    return F.col(column).eqNullSafe(F.lag(column).over(in_time))


def _ends(
    log: DataFrame, previous: DataFrame | None, spec: HistorySpec, gone_after: date
) -> DataFrame:
    """Per key, when its last version ends: null while the log has it alive; the end of the
    day of the batch that marked it deleted; for a key the log lacks (a snapshot replaced the
    log), the end the history gave it, or the end of day `gone_after` if it was current."""
    key = spec.key
    if CHANGE in log.columns:
        latest_first = Window.partitionBy(key).orderBy(
            F.col(BATCH_ID).desc(), (F.col(CHANGE) == DELETE).desc()
        )
        latest = (
            log.withColumn("_rank", F.row_number().over(latest_first))
            .where(F.col("_rank") == 1)
            .select(
                key,
                F.when(
                    F.col(CHANGE) == DELETE, F.to_timestamp(F.date_add(INGESTION_DATE, 1))
                ).alias("_ended"),
            )
        )
    else:
        latest = log.select(key, F.lit(None).cast("timestamp").alias("_ended")).distinct()
    if previous is None:
        return latest
    gone = F.lit(datetime.combine(gone_after + timedelta(days=1), time.min, tzinfo=UTC))
    last_first = Window.partitionBy(key).orderBy(F.col(VALID_FROM).desc())
    vanished = (
        previous.withColumn("_rank", F.row_number().over(last_first))
        .where(F.col("_rank") == 1)
        .join(latest, key, "left_anti")
        .select(key, F.coalesce(VALID_TO, gone).alias("_ended"))
    )
    return latest.unionByName(vanished)
