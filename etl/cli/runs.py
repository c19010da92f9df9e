"""`rainforest runs`: the latest runs from the run log; `rainforest runs show RUN_ID`: one run.

Read from `ops/runs` in this process, without Spark: it answers in a second even while a run
is going on, and a run that was killed shows the tables it finished.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from etl.cli._output import console, exits_cleanly, print_whole
from etl.core.errors import TableNotFoundError
from etl.services.settings import ServiceSettings

if TYPE_CHECKING:
    from etl.core.runlog import LoggedTable

app = typer.Typer(
    help="The run log: the latest runs (`runs`), or one run table by table (`runs show`).",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
)

_STATUS_STYLE = {"ok": "green", "failed": "red", "skipped": "yellow"}


@app.callback()
@exits_cleanly
def latest(
    ctx: typer.Context,
    last: Annotated[int, typer.Option("--last", min=1, help="How many runs to list.")] = 10,
) -> None:
    """List the latest runs, newest first: when, which day, how long, how many tables did what."""
    if ctx.invoked_subcommand is not None:
        return
    runs = _by_run(_run_log())
    listing = RichTable(title=f"the last {min(last, len(runs))} of {len(runs)} runs")
    for column in ("run", "logical date", "started (UTC)", "seconds", "tables", "status"):
        listing.add_column(column, justify="right" if column == "seconds" else "left")
    for run_id, rows in list(runs.items())[-last:][::-1]:
        counts = Counter(row.status for row in rows)
        listing.add_row(
            run_id,
            str(rows[0].logical_date),
            _time(_started(rows)),
            f"{_seconds(rows):.1f}",
            ", ".join(f"{n} {status}" for status, n in sorted(counts.items())),
            _status("failed" if counts["failed"] else "ok"),
        )
    print_whole(listing)


@app.command()
@exits_cleanly
def show(
    run_id: Annotated[str, typer.Argument(help="A run id from `rainforest runs` (or its start).")],
) -> None:
    """Show one run table by table: strategy, status, rows, versions read and written, errors."""
    from etl.core.runlog import rows_of_run

    rows = rows_of_run(_run_log(), run_id)
    refresh = ", full refresh" if rows[0].full_refresh else ""
    listing = RichTable(
        title=f"run {rows[0].run_id}: logical date {rows[0].logical_date}{refresh}, started "
        f"{_time(_started(rows))} UTC, {_seconds(rows):.1f} s",
        title_justify="left",
    )
    listing.add_column("table", no_wrap=True)
    listing.add_column("strategy")
    listing.add_column("status")
    for column in ("rows read", "rows written", "quarantined", "seconds"):
        listing.add_column(column, justify="right")
    listing.add_column("versions read")
    listing.add_column("version", justify="right")
    for row in rows:
        versions = "\n".join(f"{name}@{v}" for name, v in sorted(row.versions_read.items()))
        listing.add_row(
            escape(row.table),
            escape(row.strategy or ""),
            _status(row.status),
            _count(row.rows_read),
            _count(row.rows_written),
            _count(row.rows_quarantined),
            f"{row.seconds:.1f}",
            escape(versions),
            _count(row.version_written),
        )
    print_whole(listing)
    for row in rows:
        if row.error_message:
            console.print(
                f"[red]{escape(row.table)}[/] ({escape(row.error_class or 'error')}): "
                f"{escape(row.error_message)}"
            )


def _run_log() -> list[LoggedTable]:
    from etl.core.runlog import read_run_log, runs_uri

    settings = ServiceSettings.load()
    logged = read_run_log(settings)
    if not logged:
        raise TableNotFoundError(
            f"No run is logged at {runs_uri(settings)} yet: `rainforest run` logs every run."
        )
    return logged


def _by_run(logged: list[LoggedTable]) -> dict[str, list[LoggedTable]]:
    """Rows per run id, runs in the order they started (the log comes sorted by start)."""
    runs: dict[str, list[LoggedTable]] = {}
    for row in logged:
        runs.setdefault(row.run_id, []).append(row)
    return runs


def _started(rows: list[LoggedTable]) -> datetime | None:
    return min((row.started_at for row in rows if row.started_at is not None), default=None)


def _seconds(rows: list[LoggedTable]) -> float:
    """From the first table's start to the last table's end."""
    started = _started(rows)
    ended = max((row.finished_at for row in rows if row.finished_at is not None), default=None)
    return (ended - started).total_seconds() if started and ended else 0.0


def _status(status: str) -> str:
    style = _STATUS_STYLE.get(status)
    return f"[{style}]{status}[/]" if style else escape(status)


def _time(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"
