"""The base table: the steps every table shares, so a concrete table is metadata plus `transform`.

The table's layer is the folder its file sits in (here `etl/tables/gold/`). Example, a whole
table file::

    class DailyOrderMetrics(Table):
        \"\"\"One row per order date.\"\"\"

        spec = TableSpec(
            name="daily_order_metrics",
            grain="one row per order date",
            primary_keys=("order_date",),
            upstream=("fact_orders",),
        )

        def transform(self, fact_orders: DataFrame) -> DataFrame:
            return fact_orders.groupBy("order_date").agg(F.sum("total_price_usd"))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from etl.core.dataset import TABLE_LAYERS, ETLDataSet, TableLayer, TableSpec
from etl.core.errors import ConfigError, DataQualityError
from etl.core.incremental import (
    MARK_CONSUMED,
    MARK_DEFINITION,
    MARK_LOGICAL_END,
    BuildPlan,
    Changes,
    ChangesFound,
    as_frame,
    net_changes,
    plan_build,
    restrict,
    restrict_to,
    without,
)
from etl.core.lake import Written, distinct_partitions
from etl.core.lake.versions import NOTE_BUILD, NOTE_RUN_ID, NOTE_WHY
from etl.core.quality.engine import Verdict, check, evaluate, judge, raise_on_failure, release
from etl.core.quality.results import (
    QualityLog,
    forget_unfinished_quarantine,
    quarantine_uri,
    with_run,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from etl.core.lake import Lake, WriteResult
    from etl.core.runlog import RunLog
    from etl.core.settings import Settings
    from etl.core.upstream import Upstream


class TableLookup(Protocol):
    """The tables a run knows, by name, and the order to build them in (a `Registry`)."""

    def get(self, name: str) -> type[Table]: ...

    def build_order(self, targets: Iterable[str] = ()) -> list[type[Table]]: ...


def end_of_day(day: date) -> datetime:
    """The last moment of `day` (UTC): what a run for that logical date judges time by."""
    return datetime.combine(day, time.max, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """What every table of one run shares: the session, the storage and the run's identity.

    `check_quality=False` skips every rule, primary keys included: only for measuring what
    the checks cost (benchmarks/dq.py), never for a real run. `upstream` is the database
    source tables copy from; the composition root (the CLI, a test) resolves it.

    `full_refresh` rebuilds every table from scratch instead of carrying on from what it
    holds (for source tables: a full snapshot instead of the changes since the last batch).
    `force` builds the tables found up to date anyway: a source table logs the changes since
    its last batch, another table rebuilds whole.

    `run_ts` is when the run started; `logical_date` (default: `run_ts`'s date) is the day the
    run processes: the ingestion partition it writes, and the day whose end time rules judge
    against, so that replaying a date gives the same verdicts whenever it runs.
    """

    spark: SparkSession
    settings: Settings
    lake: Lake
    registry: TableLookup
    run_id: str
    run_ts: datetime
    logical_date: date | None = None
    full_refresh: bool = False
    force: bool = False
    upstream: Upstream | None = None
    check_quality: bool = True
    quality_log: QualityLog = field(default_factory=QualityLog)
    changes_found: ChangesFound = field(default_factory=ChangesFound)
    run_log: RunLog | None = None
    """Where each table's outcome is recorded as it ends (`new_context` sets `ops/runs`)."""

    @property
    def run_date(self) -> date:
        return self.logical_date or self.run_ts.date()

    @property
    def run_date_end(self) -> datetime:
        """The last moment of the logical date (UTC): `now` for time rules."""
        return end_of_day(self.run_date)


@dataclass(frozen=True, kw_only=True)
class TableBuild:
    """What a table's build did: how (strategy), what it read, changed and wrote."""

    version: int | None
    rows: int
    """Rows written into new files, rows carried over from replaced files included."""
    rows_in: int | None = None
    """Known for tables with drop rules, whose rows in = changed + quarantined is checked."""
    rows_quarantined: int = 0
    strategy: str = "full"
    """How the table was built: `full`, `merge(key)`, `by_date(column)`, `changes`, ..."""
    rows_read: int | None = None
    """Input rows the build looked at: whole inputs for a full build, changed rows otherwise."""
    rows_changed: int | None = None
    """Rows the build recomputed and wrote (all of them for a full build)."""
    partitions_replaced: int | None = None
    """Partitions (or, unpartitioned, the whole table: 1) a replacing build rewrote."""
    note: str = ""
    """Why the build went the way it did (a full rebuild's reason, or up to date)."""
    up_to_date: bool = False


@dataclass(frozen=True)
class Replacement:
    """What a replacing write rewrote besides the recomputed rows."""

    carried: int
    """Stored rows of the rewritten partitions that were kept as they were."""
    partitions: int


class Table:
    """Base of every table. Subclasses set `spec` and implement `transform`.

    `transform` takes one DataFrame per upstream table, as keyword arguments named after
    those tables, and returns the table's DataFrame. It must not do I/O: reading and
    writing belong to `extract` and `write`, which the base class provides.
    """

    spec: ClassVar[TableSpec]
    reads_database: ClassVar[bool] = False
    """Whether the build reads the upstream database (and so counts against its connections)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "spec" in cls.__dict__:
            if cls.spec.layer is None:
                cls.spec = cls.spec.in_layer(_folder_layer(cls))
            _check_transform_signature(cls)

    def __init__(self, context: RunContext) -> None:
        self.context = context
        self.warnings: list[str] = []
        """What the build found worth telling but not worth failing for; the run reports it."""
        self.build_plan: BuildPlan | None = None
        """How this build goes; `run` decides it before extracting."""
        self.replacement: Replacement | None = None

    @property
    def storage_path(self) -> str:
        return self.uri_in(self.context.settings)

    @classmethod
    def uri_in(cls, settings: Settings) -> str:
        """Where the table lives in the warehouse of `settings`."""
        return settings.table_uri(cls.spec.placed_layer, cls.spec.name)

    @classmethod
    def mark_names(cls, registry: TableLookup) -> tuple[str, ...]:
        """The marks a build records with its rows (see `BuildPlan.marks`): where the table
        stands, which a restore sets back with the rows."""
        consumed = (
            MARK_CONSUMED.format(registry.get(name).spec.qualified_name)
            for name in cls.spec.upstream
        )
        return (*consumed, MARK_LOGICAL_END, MARK_DEFINITION)

    @classmethod
    def expected_rows(
        cls, upstream_rows: Mapping[str, float], source_rows: Mapping[str, int]
    ) -> float:
        """Rows the table is expected to hold, so that a run can start the heaviest chain of
        tables first: those of its first upstream table (`upstream_rows`, by name), the one
        that drives it, whose grain a fact or a dimension keeps. `source_rows` are the
        upstream database's estimates, by table."""
        return upstream_rows.get(cls.spec.upstream[0], 0.0) if cls.spec.upstream else 0.0

    @classmethod
    def is_traceable(cls) -> bool:
        """Whether the framework sees everything the table reads: lake tables, through the
        default `extract`. Only then can it tell what changed since the last build."""
        return bool(cls.spec.upstream) and cls.extract is Table.extract

    def plan(self) -> BuildPlan:
        """How this build goes: skipped, whole, or replacing the rows changes touch."""
        return plan_build(self)

    def changes_since(self, version: int) -> Changes | None:
        """The rows that differ between `version` and now (`Changes`); None when that version
        can no longer be read. Only partitions whose files changed are compared."""
        lake = self.context.lake
        files = lake.files_changed(self.storage_path, version)
        if files is None:
            return None
        chosen = files.partitions if files.partition_by else None
        before = lake.read(self.storage_path, version=version, partitions=chosen)
        after = lake.read(self.storage_path, partitions=chosen)
        if not files.any:
            return Changes(before=before.limit(0), after=after.limit(0))
        return net_changes(before, after, rows_read=files.rows)

    def lookup_rows(self) -> DataFrame:
        """Rows a downstream table looks affected values up in (see `etl.core.strategy`)."""
        return self.read().curr_data

    def rows_where(self, column: str, wanted: DataFrame) -> DataFrame:
        """The current rows whose `column` holds one of the values in `wanted` (one column of
        that name; null matches null): the input a replacing build downstream recomputes from."""
        return restrict_to(self.read().curr_data, column, wanted)

    def size(self) -> int:
        """How much a replacing build could touch: dates for `by_date`, rows otherwise."""
        lake = self.context.lake
        if self.spec.strategy.kind == "by_date":
            return len(lake.partition_values(self.storage_path))
        return lake.rows(self.storage_path)

    def extract(self) -> dict[str, DataFrame]:
        """Each upstream table's current data, by name.

        Reads what is in the lake; the pipeline has built every upstream table earlier in
        the same run, so this never triggers a second build.
        """
        registry = self.context.registry
        return {
            name: registry.get(name)(self.context).read().curr_data for name in self.spec.upstream
        }

    def transform(self, **upstream: DataFrame) -> DataFrame:
        raise NotImplementedError(f"{type(self).__name__} must implement transform()")

    def validate(
        self,
        dataset: ETLDataSet,
        *,
        inputs: Mapping[str, DataFrame] | None = None,
        now: datetime | None = None,
        whole: Callable[[DataFrame], DataFrame] | None = None,
    ) -> Verdict:
        """Check the table's rules (`spec.all_rules`: its primary key's, then its own) and
        split the rows into those to write and those to quarantine.

        Raises `DataQualityError` naming every broken fail rule, with examples. `inputs` are
        the upstream tables rules look into; `now` (default: the clock) is the moment
        `not_in_future` rules judge against.
        """
        rules = self.spec.all_rules
        verdict = evaluate(
            dataset.curr_data,
            rules,
            table=self.spec.qualified_name,
            inputs=inputs,
            now=now,
            whole=whole,
        )
        raise_on_failure(verdict, rules, table=self.spec.qualified_name)
        return verdict

    def write(
        self, dataset: ETLDataSet, *, verify: Callable[[Written], None] | None = None
    ) -> WriteResult:
        """Write the build's rows: the whole table, or (replacing) in place of the rows of the
        plan's values, with the plan's marks in the same commit; `verify` judges the written
        rows before that commit (see `Lake.write`)."""
        plan = self.build_plan
        marks = plan.marks(self) if plan is not None and self.is_traceable() else None
        notes = {NOTE_RUN_ID: self.context.run_id}
        if plan is not None:
            notes |= {NOTE_BUILD: plan.mode, NOTE_WHY: plan.reason}
        if plan is not None and plan.mode == "replace":
            result, self.replacement = self._write_replacing(
                dataset.curr_data, plan, marks=marks or {}, notes=notes, verify=verify
            )
            return result
        return self.context.lake.write(
            dataset.curr_data,
            dataset.storage_path,
            mode=self.spec.mode,
            partition_by=self.spec.partition_by,
            table_format=self.spec.data_format,
            marks=marks,
            notes=notes,
            rows=dataset.rows,
            verify=verify,
        )

    def _write_replacing(
        self,
        rows: DataFrame,
        plan: BuildPlan,
        *,
        marks: dict[str, int],
        notes: dict[str, str],
        verify: Callable[[Written], None] | None,
    ) -> tuple[WriteResult, Replacement]:
        """Replace the stored rows of the plan's values with `rows`, rewriting only the
        partitions those rows were or are in (the whole table if it has no partitions).

        The partitions the stored rows were in come from the log's file statistics, and the
        stored rows kept are counted while they are written: no pass over the stored table
        before the write."""
        lake, spec, uri = self.context.lake, self.spec, self.storage_path
        on = spec.strategy.on or ""
        partition_by = spec.partition_by
        if partition_by == (on,):
            written = lake.write(
                rows,
                uri,
                mode="overwrite_partitions",
                partition_by=partition_by,
                replaced=[{on: value} for value in plan.values],
                marks=marks,
                notes=notes,
                verify=verify,
            )
            return written, Replacement(carried=0, partitions=len(plan.values))
        touched: list[dict[str, object]] = [{}]
        if partition_by:
            arriving = (row.asDict() for row in rows.select(*partition_by).distinct().collect())
            touched = distinct_partitions(
                [*lake.partitions_holding(uri, on, plan.values), *arriving]
            )
        chosen = touched if partition_by else None
        kept = without(lake.read(uri, partitions=chosen), on, plan.values)
        carried = Observation()
        kept = kept.observe(carried, F.count(F.lit(1)).alias("rows"))
        written = lake.write(
            kept.unionByName(rows),
            uri,
            mode="overwrite_partitions" if partition_by else "overwrite",
            partition_by=partition_by,
            replaced=touched if partition_by else (),
            marks=marks,
            notes=notes,
            verify=verify,
        )
        return written, Replacement(carried=int(carried.get["rows"]), partitions=len(touched))

    def read(
        self,
        *,
        partition_values: Mapping[str, object] | None = None,
        version: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> ETLDataSet:
        """The whole table (at `version`, default latest), or only the given partition values."""
        lake = self.context.lake
        fmt = self.spec.data_format
        data = lake.read(
            self.storage_path,
            version=version,
            columns=columns,
            partition_values=partition_values,
            table_format=fmt,
        )
        return ETLDataSet(spec=self.spec, curr_data=data, storage_path=self.storage_path)

    def run(self) -> TableBuild:
        """Plan, extract, transform, validate and write: the table's whole build.

        The plan (`etl.core.incremental`) may find the table up to date, or narrow the build
        to the rows that changed inputs touch: the driving input is then restricted to those
        rows before the transform. The rules are checked in the pass that writes the rows,
        and on the written files before they are committed (`etl.core.quality.engine`), so
        the inputs are read once (a JDBC extract read twice could even see other rows).
        Rows that break drop rules are appended to `<warehouse>/quarantine/<table>`; then
        rows in must equal rows written plus rows quarantined, or the run fails.
        """
        plan = self.build_plan = self.plan()
        if plan.mode == "up_to_date":
            version = self.context.lake.version(self.storage_path)
            return self._built(TableBuild(version=version, rows=0))
        inputs = self.extract()
        taken = transform_inputs(type(self), inputs)
        on = self.spec.strategy.on or ""
        replacing = plan.mode == "replace"
        if replacing:
            taken = self._narrowed(taken, plan)
        data = self.transform(**taken)
        if replacing:
            # Few rows, read again to cut the rules' inputs to the keys they hold.
            data = restrict(data, on, plan.values).persist(StorageLevel.MEMORY_AND_DISK)
            inputs = self._narrowed_for_rules(inputs, data)
        try:
            dataset = ETLDataSet(spec=self.spec, curr_data=data, storage_path=self.storage_path)
            if not self.context.check_quality:
                written = self.write(dataset)
                return self._built(TableBuild(version=written.version, rows=written.rows))
            return self._built(self._write_checked(dataset, inputs))
        finally:
            if replacing:
                data.unpersist()

    def _narrowed(self, inputs: dict[str, DataFrame], plan: BuildPlan) -> dict[str, DataFrame]:
        """The inputs a replacing build needs: the driving rows of the plan's values, and of
        each `via` input the rows that join them (on the `via` column). The chosen rows are
        few (the plan lists their values in the driver), so they are broadcast: the large
        inputs are filtered where they are read instead of shuffled."""
        strategy = self.spec.strategy
        driving = self.spec.upstream[0]
        registry = self.context.registry
        on = strategy.on or ""
        wanted = as_frame(inputs[driving], on, plan.values)
        chosen = registry.get(driving)(self.context).rows_where(on, wanted)
        narrowed = {**inputs, driving: chosen}
        for name, column in strategy.via:
            if name in narrowed:
                held = chosen.select(column).distinct()
                narrowed[name] = registry.get(name)(self.context).rows_where(column, held)
        return narrowed

    def _narrowed_for_rules(
        self, inputs: dict[str, DataFrame], data: DataFrame
    ) -> dict[str, DataFrame]:
        """The inputs rules look into, cut to the rows the recomputed `data` refers to: a
        reference or a sum over another table only needs the keys these rows hold."""
        narrowed = dict(inputs)
        for rule in self.spec.rules:
            for trace in rule.traces:
                if trace.upstream in narrowed:
                    held = data.select(F.col(trace.column).alias(trace.upstream_column))
                    held = F.broadcast(held.distinct())
                    other = narrowed[trace.upstream]
                    narrowed[trace.upstream] = other.join(held, trace.upstream_column, "left_semi")
        return narrowed

    def _built(self, build: TableBuild) -> TableBuild:
        """`build` with what the plan and the write know: strategy, rows read and changed."""
        plan = self.build_plan
        if plan is None:
            return build
        replaced = self.replacement
        up_to_date = plan.mode == "up_to_date"
        if up_to_date:
            rows_read: int | None = 0
        elif plan.mode == "replace":
            rows_read = plan.rows_read
        else:
            rows_read = self.input_rows()
        return replace(
            build,
            strategy=plan.label
            or (self.spec.strategy.describe() if plan.mode != "full" else "full"),
            rows_read=rows_read,
            rows_changed=build.rows - (replaced.carried if replaced is not None else 0),
            partitions_replaced=replaced.partitions if replaced is not None else None,
            note="" if plan.mode == "replace" else plan.reason,
            up_to_date=up_to_date,
        )

    def input_rows(self) -> int | None:
        """Rows of every upstream table, from the log's statistics: what a full build reads."""
        if not self.is_traceable():
            return None
        registry, lake = self.context.registry, self.context.lake
        return sum(
            lake.rows(registry.get(name)(self.context).storage_path) for name in self.spec.upstream
        )

    def _whole(self) -> Callable[[DataFrame], DataFrame] | None:
        """For a replacing build, the table after the write: stored rows it keeps plus `kept`."""
        plan = self.build_plan
        if plan is None or plan.mode != "replace":
            return None
        stored = self.context.lake.read(self.storage_path)
        outside = without(stored, self.spec.strategy.on or "", plan.values)
        return lambda kept: outside.unionByName(kept)

    def _write_checked(self, dataset: ETLDataSet, inputs: Mapping[str, DataFrame]) -> TableBuild:
        """Write the rows the rules keep, judging them before the commit: a broken fail rule
        leaves the table as it was. The quarantine is appended before the table's commit; a
        build that dies between the two leaves rows that the next build deletes."""
        name, rules = self.spec.qualified_name, self.spec.all_rules
        checked = check(
            dataset.curr_data,
            rules,
            table=name,
            inputs=inputs,
            now=self.context.run_date_end,
            whole=self._whole(),
        )
        verdicts: list[Verdict] = []
        quarantined: list[int] = []

        def verify(written: Written) -> None:
            verdict = judge(checked, written)
            self.context.quality_log.add(name, rules, verdict.results)
            raise_on_failure(verdict, rules, table=name)
            verdicts.append(verdict)
            quarantined.append(self._quarantine(verdict))

        try:
            written = self.write(replace(dataset, curr_data=checked.kept), verify=verify)
        finally:
            release(checked)
        if not verdicts:
            raise ConfigError(
                f"{type(self).__name__}.write wrote {name} without handing `verify` on to "
                "the lake, so its rules were never judged: pass `verify=verify` to "
                "`super().write` or `context.lake.write`."
            )
        (verdict,) = verdicts
        set_aside = sum(quarantined)
        carried = self.replacement.carried if self.replacement is not None else 0
        if verdict.quarantine is not None and verdict.rows_in != written.rows - carried + set_aside:
            raise DataQualityError(
                f"{name}: {verdict.rows_in} rows came in but {written.rows - carried} were "
                f"written and {set_aside} quarantined: rows were lost or doubled between "
                "validation and the write. This is a bug; report it."
            )
        return TableBuild(
            version=written.version,
            rows=written.rows,
            rows_in=verdict.rows_in,
            rows_quarantined=set_aside,
        )

    def _quarantine(self, verdict: Verdict) -> int:
        """Append the rows drop rules set aside (after deleting those of earlier attempts that
        never reached the table's commit); returns how many."""
        if verdict.quarantine is None:
            return 0
        context = self.context
        forgotten = forget_unfinished_quarantine(
            context.settings, self.spec.name, self.uri_in(context.settings)
        )
        if forgotten:
            self.warnings.append(
                f"deleted {forgotten:,} quarantined rows of earlier attempts that never "
                "wrote the table; this build sets its own aside"
            )
        if not verdict.rows_dropped:
            return 0
        stamped = with_run(verdict.quarantine, run_id=context.run_id, run_ts=context.run_ts)
        uri = quarantine_uri(context.settings, self.spec.name)
        return context.lake.write(stamped, uri, mode="append", rows=verdict.rows_dropped).rows


def _folder_layer(cls: type[Table]) -> TableLayer:
    """The layer named by the folder of the module that defines `cls`."""
    package = cls.__module__.rpartition(".")[0]
    folder = package.rpartition(".")[2]
    if folder not in TABLE_LAYERS:
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} is not in a layer folder "
            f"({', '.join(TABLE_LAYERS)}): move its file into one, or declare layer= in its spec."
        )
    return cast("TableLayer", folder)


def _transform_parameters(cls: type[Table]) -> tuple[set[str], bool]:
    """The upstream names `transform` takes, and whether it also takes any (`**upstream`)."""
    parameters = inspect.signature(cls.transform).parameters
    named = {
        name
        for name, p in parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }
    return named, any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def transform_inputs(cls: type[Table], inputs: Mapping[str, DataFrame]) -> dict[str, DataFrame]:
    """The extracted inputs minus the upstream tables only rules look into."""
    named, accepts_any = _transform_parameters(cls)
    if accepts_any:
        return dict(inputs)
    rule_only = set(cls.spec.rule_inputs) - named
    return {name: df for name, df in inputs.items() if name not in rule_only}


def _check_transform_signature(cls: type[Table]) -> None:
    """Fail at import time when `transform`'s parameters and `spec.upstream` disagree.

    Only where the default `extract` feeds `transform`; a table with its own `extract`
    names its own inputs.
    """
    if cls.transform is Table.transform or cls.extract is not Table.extract:
        return
    declared, accepts_any = _transform_parameters(cls)
    upstream = set(cls.spec.upstream)
    needed = upstream - set(cls.spec.rule_inputs)
    if not (needed <= declared <= upstream) and not (accepts_any and declared <= upstream):
        raise TypeError(
            f"{cls.__name__}.transform takes {sorted(declared)} but spec.upstream is "
            f"{sorted(upstream)}: name one parameter after each upstream table (tables only "
            "rules look into may be left out)."
        )
