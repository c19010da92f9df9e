"""Runs tables in dependency order, each at most once, reporting rows, seconds and status."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from etl.core.errors import RainforestError
from etl.core.table import RunContext

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from etl.core.registry import Registry
    from etl.core.settings import Settings
    from etl.core.table import Table

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


def new_context(spark: SparkSession, settings: Settings, registry: Registry) -> RunContext:
    from etl.core.lake import Lake

    return RunContext(
        spark=spark,
        settings=settings,
        lake=Lake(spark, settings),
        registry=registry,
        run_id=uuid.uuid4().hex[:12],
        run_ts=datetime.now(UTC).replace(microsecond=0),
    )


def run_pipeline(
    context: RunContext,
    targets: Iterable[str] = (),
    *,
    on_outcome: Callable[[TableOutcome], None] | None = None,
) -> RunSummary:
    """Build `targets` and what they need; a failed table skips its downstream, not its siblings.

    Errors a user can cause (`RainforestError`) become a failed outcome with their
    message; anything else is a bug and propagates. At the end, the quality results of
    every checked table are appended to `ops/dq_results` and rendered as Data Docs.
    """
    plan = context.registry.build_order(targets)
    broken: set[str] = set()
    outcomes: list[TableOutcome] = []
    for table_cls in plan:
        spec = table_cls.spec
        blocked_by = [name for name in spec.upstream if name in broken]
        if blocked_by:
            broken.add(spec.name)
            outcome = TableOutcome(
                name=spec.name,
                layer=spec.layer,
                status="skipped",
                message=f"upstream {', '.join(blocked_by)} did not build",
            )
        else:
            outcome = _build(table_cls(context))
            if outcome.status == "failed":
                broken.add(spec.name)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    docs = context.quality_log.publish(
        context.spark, context.lake, context.settings, run_id=context.run_id, run_ts=context.run_ts
    )
    return RunSummary(run_id=context.run_id, outcomes=tuple(outcomes), data_docs=docs)


def _build(table: Table) -> TableOutcome:
    spec = table.spec
    started = time.perf_counter()
    try:
        result = table.run()
    except RainforestError as error:
        return TableOutcome(
            name=spec.name,
            layer=spec.layer,
            status="failed",
            seconds=time.perf_counter() - started,
            message=str(error),
        )
    return TableOutcome(
        name=spec.name,
        layer=spec.layer,
        status="ok",
        rows=result.rows,
        seconds=time.perf_counter() - started,
        version=result.version,
        rows_in=result.rows_in,
        rows_quarantined=result.rows_quarantined,
    )


class ProgressPrinter:
    """Prints one line per finished table, then a summary table."""

    _marks: ClassVar[dict[str, str]] = {
        "ok": "[green]✓[/]",
        "failed": "[red]✗[/]",
        "skipped": "[yellow]-[/]",
    }

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)

    def __call__(self, outcome: TableOutcome) -> None:
        rows = f"{outcome.rows:>10,} rows" if outcome.rows is not None else " " * 15
        name = escape(f"{outcome.layer}.{outcome.name}")
        line = (
            f"{self._marks[outcome.status]} {name:<40} "
            f"{rows} {outcome.seconds:7.1f} s  {outcome.status}"
        )
        if outcome.rows_quarantined:
            line += f"  ({outcome.rows_quarantined:,} of {outcome.rows_in:,} quarantined)"
        if outcome.message:
            line += f"\n    {escape(outcome.message)}"
        self.console.print(line)

    def summary(self, summary: RunSummary) -> None:
        table = RichTable(title=f"run {summary.run_id}", title_justify="left")
        table.add_column("table", no_wrap=True)
        for column in ("rows in", "rows", "quarantined", "seconds", "version"):
            table.add_column(column, justify="right")
        table.add_column("status")
        for o in summary.outcomes:
            table.add_row(
                f"{o.layer}.{o.name}",
                _count(o.rows_in if o.rows_in is not None else o.rows),
                _count(o.rows),
                _count(o.rows_quarantined if o.rows is not None else None),
                f"{o.seconds:.1f}",
                "" if o.version is None else str(o.version),
                o.status,
            )
        # A pipe or a log has no width to fit: print whole rows rather than cut names.
        console = self.console
        width = console.width
        if not console.is_terminal:
            natural = table.__rich_measure__(console, console.options.update(max_width=1000))
            console.width = max(width, natural.maximum)
        try:
            console.print(table)
        finally:
            console.width = width
        if summary.data_docs is not None:
            self.console.print(
                f"Quality results: ops/dq_results (`rainforest dq`); Data Docs: {summary.data_docs}"
            )


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"
