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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

from pyspark import StorageLevel
from pyspark.sql import DataFrame

from etl.core.dataset import TABLE_LAYERS, ETLDataSet, TableLayer, TableSpec
from etl.core.errors import DataQualityError
from etl.core.quality.engine import RulesBroken, Verdict, evaluate, raise_on_failure
from etl.core.quality.results import QualityLog, quarantine_uri, with_run

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from etl.core.lake import Lake, WriteResult
    from etl.core.settings import Settings
    from etl.core.upstream import Upstream


class TableLookup(Protocol):
    """The tables a run knows, by name, and the order to build them in (a `Registry`)."""

    def get(self, name: str) -> type[Table]: ...

    def build_order(self, targets: Iterable[str] = ()) -> list[type[Table]]: ...


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """What every table of one run shares: the session, the storage and the run's identity.

    `check_quality=False` skips every rule, primary keys included: only for measuring what
    the checks cost (benchmarks/dq.py), never for a real run. `upstream` is the database
    source tables copy from; the composition root (the CLI, a test) resolves it.

    `full_refresh` rebuilds every table from scratch instead of carrying on from what it
    holds (for source tables: a full snapshot instead of the changes since the last batch).

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
    upstream: Upstream | None = None
    check_quality: bool = True
    quality_log: QualityLog = field(default_factory=QualityLog)

    @property
    def run_date(self) -> date:
        return self.logical_date or self.run_ts.date()

    @property
    def run_date_end(self) -> datetime:
        """The last moment of the logical date (UTC): `now` for time rules."""
        return datetime.combine(self.run_date, time.max, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class TableBuild:
    """What a table's build wrote: rows in (after transform), written and quarantined."""

    version: int | None
    rows: int
    rows_in: int | None = None
    """Known for tables with drop rules, whose rows in = written + quarantined is checked."""
    rows_quarantined: int = 0


class Table:
    """Base of every table. Subclasses set `spec` and implement `transform`.

    `transform` takes one DataFrame per upstream table, as keyword arguments named after
    those tables, and returns the table's DataFrame. It must not do I/O: reading and
    writing belong to `extract` and `write`, which the base class provides.
    """

    spec: ClassVar[TableSpec]

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

    @property
    def storage_path(self) -> str:
        return self.context.settings.table_uri(self.spec.placed_layer, self.spec.name)

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
        )
        raise_on_failure(verdict, rules, table=self.spec.qualified_name)
        return verdict

    def write(self, dataset: ETLDataSet) -> WriteResult:
        return self.context.lake.write(
            dataset.curr_data,
            dataset.storage_path,
            mode=self.spec.mode,
            partition_by=self.spec.partition_by,
            table_format=self.spec.data_format,
        )

    def read(
        self,
        *,
        partition_values: Mapping[str, object] | None = None,
        version: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> ETLDataSet:
        """The latest partition by default, or the given partition values, or a Delta version.

        "Latest" is the greatest partition value tuple in the current snapshot, which for
        tables partitioned by ingestion time is the newest snapshot. Unpartitioned tables
        are read whole.
        """
        lake = self.context.lake
        fmt = self.spec.data_format
        if partition_values is None and self.spec.partition_by and version is None:
            present = lake.partition_values(self.storage_path, table_format=fmt)
            if present:
                order = self.spec.partition_by
                partition_values = max(present, key=lambda p: tuple(p[k] for k in order))
        data = lake.read(
            self.storage_path,
            version=version,
            columns=columns,
            partition_values=partition_values,
            table_format=fmt,
        )
        return ETLDataSet(spec=self.spec, curr_data=data, storage_path=self.storage_path)

    def run(self) -> TableBuild:
        """Extract, transform, validate and write: the table's whole build.

        The transformed data is persisted for the length of the build, so that validation
        and the writes read it once from its sources rather than again (for a JDBC extract,
        again could even see different rows). Rows that break drop rules are appended to
        `<warehouse>/quarantine/<table>`; then rows in must equal rows written plus rows
        quarantined, counted from the written files, or the run fails.
        """
        inputs = self.extract()
        taken = _transform_inputs(type(self), inputs)
        data = self.transform(**taken).persist(StorageLevel.MEMORY_AND_DISK)
        verdict: Verdict | None = None
        try:
            dataset = ETLDataSet(spec=self.spec, curr_data=data, storage_path=self.storage_path)
            if not self.context.check_quality:
                written = self.write(dataset)
                return TableBuild(version=written.version, rows=written.rows)
            verdict = self._validate_and_log(dataset, inputs)
            return self._write_verdict(verdict)
        finally:
            data.unpersist()
            if verdict is not None and verdict.cached is not None:
                verdict.cached.unpersist()

    def _validate_and_log(self, dataset: ETLDataSet, inputs: Mapping[str, DataFrame]) -> Verdict:
        log = self.context.quality_log
        name = self.spec.qualified_name
        try:
            verdict = self.validate(dataset, inputs=inputs, now=self.context.run_date_end)
        except RulesBroken as broken:
            log.add(name, self.spec.all_rules, broken.results)
            raise
        log.add(name, self.spec.all_rules, verdict.results)
        return verdict

    def _write_verdict(self, verdict: Verdict) -> TableBuild:
        clean = ETLDataSet(spec=self.spec, curr_data=verdict.kept, storage_path=self.storage_path)
        if verdict.quarantine is None:
            written = self.write(clean)
            return TableBuild(version=written.version, rows=written.rows)
        quarantined = 0
        if verdict.rows_dropped:
            context = self.context
            stamped = with_run(verdict.quarantine, run_id=context.run_id, run_ts=context.run_ts)
            uri = quarantine_uri(context.settings, self.spec.name)
            quarantined = context.lake.write(stamped, uri, mode="append").rows
        written = self.write(clean)
        if verdict.rows_in != written.rows + quarantined:
            raise DataQualityError(
                f"{self.spec.qualified_name}: {verdict.rows_in} rows came in but "
                f"{written.rows} were written and {quarantined} quarantined: rows were lost or "
                "doubled between validation and the write. This is a bug; report it."
            )
        return TableBuild(
            version=written.version,
            rows=written.rows,
            rows_in=verdict.rows_in,
            rows_quarantined=quarantined,
        )


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


def _transform_inputs(cls: type[Table], inputs: Mapping[str, DataFrame]) -> dict[str, DataFrame]:
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
