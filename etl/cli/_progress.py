"""Renders a run's events: for people, a line per finished table, the tables in flight, then a
summary; for schedulers, one JSON object per event."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, ClassVar, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from etl.cli._lock import took_over_text, waiting_text
from etl.cli._output import print_whole
from etl.core.pipeline import (
    UP_TO_DATE,
    TableFinished,
    TableRetried,
    TableStarted,
    TookOverWarehouse,
    WaitingForWarehouse,
)

if TYPE_CHECKING:
    from rich.status import Status

    from etl.core.lock import Holder
    from etl.core.pipeline import RunEvent, RunSummary, TableOutcome


class ProgressPrinter:
    """Prints one line per finished table, then a summary table.

    On a terminal, the tables being built show on a spinner line below the finished ones;
    pipes and logs get only the finished lines.
    """

    _marks: ClassVar[dict[str, str]] = {
        "ok": "[green]✓[/]",
        "failed": "[red]✗[/]",
        "skipped": "[yellow]-[/]",
        UP_TO_DATE: "[dim]·[/]",
    }

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._status: Status | None = None
        self._building: list[str] = []

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, TableStarted):
            self._building.append(f"{event.layer}.{event.name}")
        elif isinstance(event, TableFinished):
            outcome = event.outcome
            name = f"{outcome.layer}.{outcome.name}"
            if name in self._building:
                self._building.remove(name)
            self._print_outcome(outcome)
        elif isinstance(event, TableRetried):
            self.console.print(
                f"[yellow]↻[/] {escape(f'{event.layer}.{event.name}')}: attempt {event.attempt} "
                f"of {event.attempts} failed, again in {event.wait_s:.1f} s: {escape(event.cause)}"
            )
        elif isinstance(event, WaitingForWarehouse):
            self.console.print(waiting_text(event.holder))
        elif isinstance(event, TookOverWarehouse):
            self.console.print(took_over_text(event.previous))
        self._show_building()

    def summary(self, summary: RunSummary) -> None:
        self.close()
        table = RichTable(title=f"run {summary.run_id}", title_justify="left")
        table.add_column("table", no_wrap=True)
        table.add_column("strategy", no_wrap=True)
        for column in (
            "rows read",
            "rows changed",
            "partitions",
            "quarantined",
            "rows",
            "seconds",
            "version",
        ):
            table.add_column(column, justify="right")
        table.add_column("status")
        for o in summary.outcomes:
            table.add_row(
                f"{o.layer}.{o.name}",
                o.strategy,
                _count(o.rows_read),
                _count(o.rows_changed),
                _count(o.partitions_replaced),
                _count(o.rows_quarantined if o.rows is not None else None),
                _count(o.rows),
                f"{o.seconds:.1f}",
                "" if o.version is None else str(o.version),
                o.shown_status,
            )
        print_whole(table, self.console)
        if summary.data_docs is not None:
            self.console.print(
                f"Quality results: ops/dq_results (`rainforest dq`); Data Docs: {summary.data_docs}"
            )

    def _show_building(self) -> None:
        if not self.console.is_terminal:
            return
        if not self._building:
            self.close()
            return
        text = f"building {escape(', '.join(self._building))}"
        if self._status is None:
            self._status = self.console.status(text)
            self._status.start()
        else:
            self._status.update(text)

    def close(self) -> None:
        """Remove the spinner line; the summary does it, and so must a run that raised."""
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _print_outcome(self, outcome: TableOutcome) -> None:
        changed = outcome.rows_changed if outcome.rows_changed is not None else outcome.rows
        rows = f"{changed:>10,} rows" if changed is not None else " " * 15
        name = escape(f"{outcome.layer}.{outcome.name}")
        status = outcome.shown_status
        mark = self._marks[UP_TO_DATE if outcome.up_to_date else outcome.status]
        line = f"{mark} {name:<40} {rows} {outcome.seconds:7.1f} s  {status}"
        if outcome.strategy and not outcome.up_to_date:
            line += f"  {escape(outcome.strategy)}"
            if outcome.partitions_replaced:
                line += f", {outcome.partitions_replaced:,} partitions"
        if outcome.note and not outcome.up_to_date:
            line += f" ({escape(outcome.note)})"
        if outcome.rows_quarantined:
            line += f"  ({outcome.rows_quarantined:,} of {outcome.rows_in:,} quarantined)"
        if outcome.message:
            line += f"\n    {escape(outcome.message)}"
        for warning in outcome.warnings:
            line += f"\n    [yellow]warning:[/] {escape(warning)}"
        self.console.print(line)


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


class JsonEventPrinter:
    """Prints one JSON object per line for each table's start, retry and finish, for waiting on
    or taking over the warehouse, and for the run's end, for schedulers and log collectors
    (`--log-format json`); nothing else goes to stdout."""

    def __init__(self, *, run_id: str, logical_date: date, output: TextIO | None = None) -> None:
        self._run = {"run_id": run_id, "logical_date": logical_date.isoformat()}
        self._output = output or sys.stdout

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, TableStarted):
            self._emit("table_started", table=f"{event.layer}.{event.name}")
        elif isinstance(event, TableFinished):
            o = event.outcome
            self._emit(
                "table_finished",
                table=f"{o.layer}.{o.name}",
                status=o.shown_status,
                strategy=o.strategy or None,
                rows_read=o.rows_read,
                rows_written=o.rows,
                rows_changed=o.rows_changed,
                rows_quarantined=o.rows_quarantined if o.rows is not None else None,
                partitions_replaced=o.partitions_replaced,
                version=o.version,
                seconds=round(o.seconds, 3),
                error_class=o.error_class or None,
                message=o.message or None,
                note=o.note or None,
                warnings=list(o.warnings),
                retries=o.retries,
            )
        elif isinstance(event, TableRetried):
            self._emit(
                "table_retried",
                table=f"{event.layer}.{event.name}",
                attempt=event.attempt,
                attempts=event.attempts,
                cause=event.cause,
                wait_s=event.wait_s,
            )
        elif isinstance(event, WaitingForWarehouse):
            self._emit("waiting_for_warehouse", holder=_holder(event.holder))
        elif isinstance(event, TookOverWarehouse):
            self._emit("took_over_warehouse", previous=_holder(event.previous))

    def summary(self, summary: RunSummary) -> None:
        counts = Counter(o.status for o in summary.outcomes)
        self._emit(
            "run_finished",
            status="ok" if summary.ok else "failed",
            exit_code=summary.exit_code,
            tables=dict(sorted(counts.items())),
            data_docs=None if summary.data_docs is None else str(summary.data_docs),
        )

    def close(self) -> None:
        """Nothing to take down: every event is a finished line."""

    def _emit(self, event: str, **fields: object) -> None:
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        line = json.dumps({"event": event, "at": at, **self._run, **fields})
        self._output.write(line + "\n")
        self._output.flush()


def _holder(holder: Holder) -> dict[str, object]:
    return {
        "run_id": holder.run_id,
        "purpose": holder.purpose,
        "host": holder.host,
        "pid": holder.pid,
        "since": holder.since.isoformat(),
    }
