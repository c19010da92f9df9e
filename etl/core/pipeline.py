"""Runs tables in dependency order, each at most once and several at a time, reporting rows,
seconds and status.

The core prints nothing: a run reports through events (`TableStarted`, `TableFinished`) handed
to a callback, which the CLI renders as progress lines and a scheduler could log as JSON.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from etl.core.errors import EXIT_FAILED, EXIT_RULE_BROKEN, RainforestError
from etl.core.lock import Holder, WarehouseLock, holding_warehouse
from etl.core.quality import gx
from etl.core.quality.results import QualityLog, QualityResults
from etl.core.retry import attempts, transient_cause
from etl.core.runlog import LoggedTable, RunLog
from etl.core.scheduler import Done, Limit, Started, run_graph
from etl.core.table import RunContext

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from etl.core.settings import Settings
    from etl.core.table import Table, TableLookup
    from etl.core.upstream import Upstream

Status = Literal["ok", "failed", "skipped"]
UP_TO_DATE = "skipped (up to date)"


@dataclass(frozen=True, kw_only=True)
class TableOutcome:
    """How one table's build ended."""

    name: str
    layer: str
    status: Status
    rows: int | None = None
    """Rows written."""
    seconds: float = 0.0
    version: int | None = None
    message: str = ""
    rows_in: int | None = None
    """Rows the transform produced; known for tables with drop rules."""
    rows_quarantined: int = 0
    warnings: tuple[str, ...] = ()
    strategy: str = ""
    """How it was built: `full`, `merge(key)`, `by_date(column)`, `snapshot`, `changes`."""
    rows_read: int | None = None
    rows_changed: int | None = None
    partitions_replaced: int | None = None
    note: str = ""
    """Why a build was whole, or that the table was up to date."""
    up_to_date: bool = False
    versions_read: Mapping[str, int] = field(default_factory=dict)
    """Upstream lake table (qualified name) -> the Delta version the build read."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error_class: str = ""
    """The exception's class, for a failed build."""
    exit_code: int = 0
    """The failure's exit code (`etl.core.errors`): 3 when a fail rule broke."""
    retries: int = 0
    """Attempts that failed for a transient reason and were made again (see `warnings`)."""

    @property
    def shown_status(self) -> str:
        """The status as the summary and the run log show it: a table found up to date was
        not built, so it reads `skipped (up to date)`."""
        return UP_TO_DATE if self.up_to_date else self.status


@dataclass(frozen=True, kw_only=True)
class TableStarted:
    """A table's build began."""

    name: str
    layer: str


@dataclass(frozen=True, kw_only=True)
class TableFinished:
    """A table's build ended, or the table was skipped; `outcome` says how."""

    outcome: TableOutcome


@dataclass(frozen=True, kw_only=True)
class TableRetried:
    """An attempt at a table's build failed for a transient reason; another follows."""

    name: str
    layer: str
    attempt: int
    """The attempt that failed, from 1."""
    attempts: int
    """Attempts allowed in all (the setting `retry_attempts`)."""
    cause: str
    wait_s: float
    """The wait before the next attempt."""


@dataclass(frozen=True, kw_only=True)
class WaitingForWarehouse:
    """Another command holds the warehouse; the run starts when it is released."""

    holder: Holder


@dataclass(frozen=True, kw_only=True)
class TookOverWarehouse:
    """The run took over the warehouse lock of a command that stopped renewing it (or whose
    process is gone), most likely killed: its tables kept their last committed versions."""

    previous: Holder


RunEvent = TableStarted | TableFinished | TableRetried | WaitingForWarehouse | TookOverWarehouse


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    run_id: str
    outcomes: tuple[TableOutcome, ...]
    data_docs: Path | None = None
    """The Data Docs index of the run's quality results, when rules were checked."""

    @property
    def ok(self) -> bool:
        return all(o.status == "ok" for o in self.outcomes)

    def failures(self) -> list[TableOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when every table built; 3 when only `fail` rules stopped tables (the data is at
        fault); else 1."""
        codes = {o.exit_code for o in self.failures()}
        if not codes:
            return 0
        return EXIT_RULE_BROKEN if codes == {EXIT_RULE_BROKEN} else EXIT_FAILED


def new_context(
    spark: SparkSession,
    settings: Settings,
    registry: TableLookup,
    *,
    upstream: Upstream | None = None,
    logical_date: date | None = None,
    full_refresh: bool = False,
    force: bool = False,
) -> RunContext:
    """A context for one run: a new run id, the time now, the day it processes (default:
    today, UTC), whether it rebuilds from scratch (or what is up to date), and the lake of
    `settings`."""
    from etl.core.lake import Lake

    run_id = uuid.uuid4().hex[:12]
    run_ts = datetime.now(UTC).replace(microsecond=0)
    return RunContext(
        spark=spark,
        settings=settings,
        lake=Lake(spark, settings),
        registry=registry,
        upstream=upstream,
        logical_date=logical_date,
        full_refresh=full_refresh,
        force=force,
        run_id=run_id,
        run_ts=run_ts,
        run_log=RunLog.of_run(
            settings,
            run_id=run_id,
            logical_date=logical_date or run_ts.date(),
            full_refresh=full_refresh,
        ),
        quality_log=QualityLog(
            destination=QualityResults.of_run(settings, run_id=run_id, run_ts=run_ts)
        ),
    )


def run_pipeline(
    context: RunContext,
    targets: Iterable[str] = (),
    *,
    on_event: Callable[[RunEvent], None] | None = None,
    threads: int | None = None,
    wait: bool = False,
) -> RunSummary:
    """Build `targets` and what they need; a failed table skips its downstream, not its siblings.

    Up to `threads` tables (default: the setting `threads`, else the cores Spark has) build at
    once, each as soon as its upstream tables are built, each a Spark job group in a FAIR
    scheduler pool of its own; source tables reading the upstream database at once stay
    within the setting `upstream_connections`. Errors a user can cause (`RainforestError`)
    become a failed outcome with their message; anything else is a bug and propagates, after
    it is recorded. Each table's outcome goes to the run log (`ops/runs`) and its quality
    results to `ops/dq_results` as soon as it ends, so a killed run still shows what it
    finished; the run's Data Docs are rendered at the end. `on_event` hears of every table's
    start, retry and finish, one event at a time; the summary lists the tables in build order.

    The run holds the warehouse (`etl.core.lock`) throughout: if another command holds it,
    it raises `WarehouseBusyError` or, with `wait`, waits for it.
    """
    emit = _one_at_a_time(on_event)
    holder = Holder.this_process(run_id=context.run_id, purpose=f"run {context.run_date}")
    with holding_warehouse(
        context.settings,
        holder,
        wait=wait,
        on_wait=lambda other: emit(WaitingForWarehouse(holder=other)),
    ) as lock:
        if lock.taken_over is not None:
            emit(TookOverWarehouse(previous=lock.taken_over))
        return _run_holding(context, targets, emit=emit, threads=threads, lock=lock)


def _run_holding(
    context: RunContext,
    targets: Iterable[str],
    *,
    emit: Callable[[RunEvent], None],
    threads: int | None,
    lock: WarehouseLock,
) -> RunSummary:
    plan = {table_cls.spec.name: table_cls for table_cls in context.registry.build_order(targets)}
    spark_context = context.spark.sparkContext
    workers = threads or context.settings.threads or spark_context.defaultParallelism
    reading = Limit(
        group="upstream database",
        size=max(1, context.settings.upstream_connections // spark_context.defaultParallelism),
    )

    def build(name: str) -> TableOutcome:
        spec = plan[name].spec
        spark_context.setLocalProperty("spark.scheduler.pool", spec.qualified_name)
        spark_context.setJobGroup(spec.qualified_name, f"build {spec.qualified_name}")
        try:
            return _recorded(context.run_log, _build(plan[name](context), emit=emit, lock=lock))
        finally:
            spark_context.setLocalProperty("spark.scheduler.pool", None)  # type: ignore[arg-type]
            spark_context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]

    warming = _warm_up_gx(context, plan.values())
    outcomes: dict[str, TableOutcome] = {}
    events = run_graph(
        list(plan),
        {name: table_cls.spec.upstream for name, table_cls in plan.items()},
        build,
        lambda outcome: outcome.status == "ok",
        threads=workers,
        limits={name: reading for name, table_cls in plan.items() if table_cls.reads_database},
        weights=_expected_costs(context, plan),
        cancel=spark_context.cancelAllJobs,
    )
    for event in events:
        if isinstance(event, Started):
            spec = plan[event.name].spec
            emit(TableStarted(name=spec.name, layer=spec.placed_layer))
            continue
        if isinstance(event, Done):
            outcome = event.result
        else:
            spec = plan[event.name].spec
            now = datetime.now(UTC)
            outcome = _recorded(
                context.run_log,
                TableOutcome(
                    name=spec.name,
                    layer=spec.placed_layer,
                    status="skipped",
                    message=f"upstream {', '.join(event.failed)} did not build",
                    started_at=now,
                    finished_at=now,
                ),
            )
        outcomes[event.name] = outcome
        emit(TableFinished(outcome=outcome))
    if warming is not None:
        warming.join()
    docs = context.quality_log.publish(
        context.settings, run_id=context.run_id, run_ts=context.run_ts
    )
    return RunSummary(
        run_id=context.run_id,
        outcomes=tuple(outcomes[name] for name in plan),
        data_docs=docs,
    )


def _expected_costs(context: RunContext, plan: Mapping[str, type[Table]]) -> dict[str, float]:
    """What each table's build is expected to cost, at least 1: the rows it reads, the
    expected rows of its upstream tables (`Table.expected_rows`); for a source table, the
    rows it copies. A database that does not answer gives no estimates: its tables then fail
    with their own message."""
    source_rows: dict[str, int] = {}
    if context.upstream is not None and any(t.reads_database for t in plan.values()):
        with contextlib.suppress(RainforestError):
            source_rows = context.upstream.estimated_rows()
    rows: dict[str, float] = {}
    costs: dict[str, float] = {}
    for name, table_cls in plan.items():  # in build order: every upstream table comes first
        rows[name] = table_cls.expected_rows(rows, source_rows)
        read = [rows.get(upstream, 0.0) for upstream in table_cls.spec.upstream]
        costs[name] = max(1.0, sum(read) if read else rows[name])
    return costs


def _warm_up_gx(context: RunContext, tables: Iterable[type[Table]]) -> threading.Thread | None:
    """Start GX's first-use setup in the background when the run checks rules: the context
    its Data Docs need, and its Spark engine when a table of the run has a GX rule."""
    if not context.check_quality:
        return None
    validates = any(
        rule.kind == "expectation" for table_cls in tables for rule in table_cls.spec.all_rules
    )

    def warm_up() -> None:
        # A GX that cannot validate fails the table that needs it, with its message.
        with contextlib.suppress(Exception):
            if validates:
                gx.warm_up(context.spark)
            else:
                gx.prepare_docs()

    thread = threading.Thread(target=warm_up, name="gx warm-up", daemon=True)
    thread.start()
    return thread


def _one_at_a_time(on_event: Callable[[RunEvent], None] | None) -> Callable[[RunEvent], None]:
    """`on_event`, called by one thread at a time: retries are told from the build threads,
    the moment they happen."""
    serial = threading.Lock()

    def emit(event: RunEvent) -> None:
        if on_event is not None:
            with serial:
                on_event(event)

    return emit


def _recorded(run_log: RunLog | None, outcome: TableOutcome) -> TableOutcome:
    """`outcome`, after its row is in the run log; a log that cannot be written does not undo
    the build, it becomes the outcome's warning."""
    if run_log is None:
        return outcome
    try:
        run_log.append(_logged(run_log, outcome))
    except RainforestError as error:
        warning = f"not recorded in the run log {run_log.uri}: {error}"
        return replace(outcome, warnings=(*outcome.warnings, warning))
    return outcome


def _logged(run_log: RunLog, outcome: TableOutcome) -> LoggedTable:
    """`outcome` as a row of the run log."""
    return LoggedTable(
        run_id=run_log.run_id,
        logical_date=run_log.logical_date,
        full_refresh=run_log.full_refresh,
        table=f"{outcome.layer}.{outcome.name}",
        strategy=outcome.strategy or None,
        status=outcome.shown_status,
        rows_read=outcome.rows_read,
        rows_in=outcome.rows_in,
        rows_written=outcome.rows,
        rows_changed=outcome.rows_changed,
        rows_quarantined=outcome.rows_quarantined if outcome.rows is not None else None,
        partitions_replaced=outcome.partitions_replaced,
        versions_read=dict(outcome.versions_read),
        version_written=outcome.version,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        seconds=round(outcome.seconds, 3),
        error_class=outcome.error_class or None,
        error_message=outcome.message if outcome.status == "failed" else None,
        note=outcome.note or (outcome.message if outcome.status == "skipped" else None),
        warnings=outcome.warnings,
        retries=outcome.retries,
    )


def _build(table: Table, *, emit: Callable[[RunEvent], None], lock: WarehouseLock) -> TableOutcome:
    """Run `table`'s build, again after a transient failure (`etl.core.retry`, each retry an
    event and a warning with its cause); a user's error, or a transient one that outlasted the
    attempts, becomes a failed outcome, a bug is recorded in the run log and raised. Nothing is
    built once the run lost the warehouse."""
    spec = table.spec
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    retries = 0

    def ended(
        status: Status, error: BaseException | None = None, message: str | None = None
    ) -> TableOutcome:
        plan = table.build_plan
        return TableOutcome(
            name=spec.name,
            layer=spec.placed_layer,
            status=status,
            seconds=time.perf_counter() - started,
            warnings=tuple(dict.fromkeys(table.warnings)),
            retries=retries,
            versions_read=dict(plan.consumed) if plan is not None else {},
            started_at=started_at,
            finished_at=datetime.now(UTC),
            error_class="" if error is None else type(error).__name__,
            exit_code=error.exit_code if isinstance(error, RainforestError) else 0,
            message=message or ("" if error is None else str(error)),
        )

    settings = table.context.settings

    def retrying(attempt: int, error: BaseException, wait_s: float) -> None:
        nonlocal retries
        retries += 1
        cause = transient_cause(error) or type(error).__name__
        table.warnings.append(
            f"attempt {attempt} of {settings.retry_attempts} failed and is retried: {cause}"
        )
        emit(
            TableRetried(
                name=spec.name,
                layer=spec.placed_layer,
                attempt=attempt,
                attempts=settings.retry_attempts,
                cause=cause,
                wait_s=round(wait_s, 3),
            )
        )

    try:
        lock.check()
        result = attempts(
            table.run,
            tries=settings.retry_attempts,
            wait_s=settings.retry_wait_s,
            max_wait_s=settings.retry_max_wait_s,
            on_retry=retrying,
        )
    except RainforestError as error:
        return ended("failed", error)
    except Exception as error:
        cause = transient_cause(error)
        if cause is None:
            _recorded(table.context.run_log, ended("failed", error))
            raise
        # Not a bug: a service stayed away through every attempt (Spark's own errors reach
        # here unwrapped when an executor lost the database or the object store).
        attempted = f"{settings.retry_attempts} attempts"
        return ended("failed", error, f"{cause} (still failing after {attempted})")
    return replace(
        ended("ok"),
        rows=result.rows,
        version=result.version,
        rows_in=result.rows_in,
        rows_quarantined=result.rows_quarantined,
        strategy=result.strategy,
        rows_read=result.rows_read,
        rows_changed=result.rows_changed,
        partitions_replaced=result.partitions_replaced,
        note=result.note,
        up_to_date=result.up_to_date,
    )
