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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from etl.core.errors import RainforestError
from etl.core.quality import gx
from etl.core.scheduler import Done, Limit, Started, run_graph
from etl.core.table import RunContext

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from etl.core.settings import Settings
    from etl.core.table import Table, TableLookup
    from etl.core.upstream import Upstream

Status = Literal["ok", "failed", "skipped"]


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


@dataclass(frozen=True, kw_only=True)
class TableStarted:
    """A table's build began."""

    name: str
    layer: str


@dataclass(frozen=True, kw_only=True)
class TableFinished:
    """A table's build ended, or the table was skipped; `outcome` says how."""

    outcome: TableOutcome


RunEvent = TableStarted | TableFinished


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


def new_context(
    spark: SparkSession,
    settings: Settings,
    registry: TableLookup,
    *,
    upstream: Upstream | None = None,
    logical_date: date | None = None,
    full_refresh: bool = False,
) -> RunContext:
    """A context for one run: a new run id, the time now, the day it processes (default:
    today, UTC), whether it rebuilds from scratch, and the lake of `settings`."""
    from etl.core.lake import Lake

    return RunContext(
        spark=spark,
        settings=settings,
        lake=Lake(spark, settings),
        registry=registry,
        upstream=upstream,
        logical_date=logical_date,
        full_refresh=full_refresh,
        run_id=uuid.uuid4().hex[:12],
        run_ts=datetime.now(UTC).replace(microsecond=0),
    )


def run_pipeline(
    context: RunContext,
    targets: Iterable[str] = (),
    *,
    on_event: Callable[[RunEvent], None] | None = None,
    threads: int | None = None,
) -> RunSummary:
    """Build `targets` and what they need; a failed table skips its downstream, not its siblings.

    Up to `threads` tables (default: the setting `threads`, else the cores Spark has) build at
    once, each as soon as its upstream tables are built, each a Spark job group in a FAIR
    scheduler pool of its own; source tables reading the upstream database at once stay
    within the setting `upstream_connections`. Errors a user can cause (`RainforestError`)
    become a failed outcome with their message; anything else is a bug and propagates. At the
    end, the quality results of every checked table are appended to `ops/dq_results` and
    rendered as Data Docs. `on_event` hears of every table's start and finish, on the
    caller's thread; the summary lists the tables in build order.
    """
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
            return _build(plan[name](context))
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
        cancel=spark_context.cancelAllJobs,
    )
    for event in events:
        if isinstance(event, Started):
            spec = plan[event.name].spec
            _emit(on_event, TableStarted(name=spec.name, layer=spec.placed_layer))
            continue
        if isinstance(event, Done):
            outcome = event.result
        else:
            spec = plan[event.name].spec
            outcome = TableOutcome(
                name=spec.name,
                layer=spec.placed_layer,
                status="skipped",
                message=f"upstream {', '.join(event.failed)} did not build",
            )
        outcomes[event.name] = outcome
        _emit(on_event, TableFinished(outcome=outcome))
    if warming is not None:
        warming.join()
    docs = context.quality_log.publish(
        context.spark, context.lake, context.settings, run_id=context.run_id, run_ts=context.run_ts
    )
    return RunSummary(
        run_id=context.run_id,
        outcomes=tuple(outcomes[name] for name in plan),
        data_docs=docs,
    )


def _warm_up_gx(context: RunContext, tables: Iterable[type[Table]]) -> threading.Thread | None:
    """Start GX's first-use setup in the background when a table of the run has a GX rule."""
    if not context.check_quality or not any(
        rule.kind == "expectation" for table_cls in tables for rule in table_cls.spec.all_rules
    ):
        return None

    def warm_up() -> None:
        # A GX that cannot validate fails the table that needs it, with its message.
        with contextlib.suppress(Exception):
            gx.warm_up(context.spark)

    thread = threading.Thread(target=warm_up, name="gx warm-up", daemon=True)
    thread.start()
    return thread


def _emit(on_event: Callable[[RunEvent], None] | None, event: RunEvent) -> None:
    if on_event is not None:
        on_event(event)


def _build(table: Table) -> TableOutcome:
    spec = table.spec
    started = time.perf_counter()
    try:
        result = table.run()
    except RainforestError as error:
        return TableOutcome(
            name=spec.name,
            layer=spec.placed_layer,
            status="failed",
            seconds=time.perf_counter() - started,
            message=str(error),
            warnings=tuple(table.warnings),
        )
    return TableOutcome(
        name=spec.name,
        layer=spec.placed_layer,
        status="ok",
        rows=result.rows,
        seconds=time.perf_counter() - started,
        version=result.version,
        rows_in=result.rows_in,
        rows_quarantined=result.rows_quarantined,
        warnings=tuple(table.warnings),
        strategy=result.strategy,
        rows_read=result.rows_read,
        rows_changed=result.rows_changed,
        partitions_replaced=result.partitions_replaced,
        note=result.note,
        up_to_date=result.up_to_date,
    )
