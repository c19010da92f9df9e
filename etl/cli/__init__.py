"""The `rainforest` command."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from etl.cli import db, docs, dq, runs, stack
from etl.cli._lock import Wait
from etl.cli._output import console, error_console, exits_cleanly, print_table
from etl.cli._wiring import open_catalog, upstream
from etl.cli.datagen import datagen
from etl.cli.lineage import lineage
from etl.cli.maintain import maintain
from etl.cli.plan import plan
from etl.cli.serve import serve
from etl.cli.sql import sql
from etl.cli.versions import history, restore
from etl.core.registry import Registry
from etl.services.settings import ServiceSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

app = typer.Typer(
    help="Rainforest lakehouse: build the Delta Lake tables and query the reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db", help="The local upstream Postgres server.")
app.add_typer(docs.app, name="docs")
app.add_typer(dq.app, name="dq")
app.add_typer(runs.app, name="runs")
app.add_typer(stack.app, name="stack", help="The native Spark cluster with S3 and Postgres.")
app.command()(datagen)
app.command()(sql)
app.command()(serve)
app.command()(history)
app.command()(restore)
app.command()(maintain)
app.command()(plan)
app.command()(lineage)


Threads = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Tables built at once. Default: the setting RAINFOREST_THREADS, else the cores "
        "Spark has.",
    ),
]


Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Build the tables found up to date anyway: source tables log the changes since "
        "their last batch, the other tables rebuild whole.",
    ),
]


class LogFormat(StrEnum):
    text = "text"
    json = "json"


LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        help="text: progress lines and a summary for people; json: one JSON object per line "
        "for each table's start and finish and the run's end, for schedulers (other messages "
        "go to stderr).",
    ),
]


@app.command()
@exits_cleanly
def run(
    tables: Annotated[
        list[str] | None,
        typer.Argument(help="Tables to build, with what they need; none means every table."),
    ] = None,
    show: Annotated[
        list[str] | None,
        typer.Option(help="A view or table to print the first rows of after the run; repeatable."),
    ] = None,
    show_rows: Annotated[int, typer.Option(min=1, help="Rows printed per --show.")] = 10,
    logical_date: Annotated[
        datetime | None,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help="The day the run processes, YYYY-MM-DD: its ingestion partition, and the end "
            "of the day time rules judge against. Default: today (UTC).",
        ),
    ] = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Rebuild the tables from scratch: source tables take a full snapshot of "
            "upstream instead of the changes since their last batch.",
        ),
    ] = False,
    force: Force = False,
    threads: Threads = None,
    log_format: LogFormatOption = LogFormat.text,
    retry_failed: Annotated[
        str | None,
        typer.Option(
            "--retry-failed",
            metavar="RUN_ID",
            help="Build only the tables that failed or were skipped in that run (an id from "
            "`rainforest runs`, or its start), for its logical date unless --date says another.",
        ),
    ] = None,
    wait: Wait = False,
) -> None:
    """Build tables in dependency order, each once, and print a per-table summary.

    Incremental by default: source tables log the upstream changes since their last run, and
    the other tables rebuild only what those changes touch (their strategy). A table whose
    inputs did not change is skipped (up to date); `rainforest plan` shows beforehand which
    tables a run would build and why.
    """
    day = logical_date.date() if logical_date else None
    targets = tables or []
    if retry_failed is not None:
        if targets:
            raise typer.BadParameter(
                "name tables or --retry-failed, not both", param_hint="--retry-failed"
            )
        from etl.core.runlog import unfinished

        undone = unfinished(ServiceSettings.load(), retry_failed)
        if not undone.tables:
            console.print(f"Run {undone.run_id} built every table: nothing to retry.")
            return
        targets, day = list(undone.tables), day or undone.logical_date
        full_refresh = full_refresh or undone.full_refresh
    spark = _run_days(
        targets,
        [day],
        full_refresh=full_refresh,
        force=force,
        threads=threads,
        log_format=log_format,
        wait=wait,
    )
    if show:
        settings = ServiceSettings.load()
        catalog = open_catalog(spark, settings)
        with catalog.explained_errors():
            for name in show:
                console.print(f"\n[bold]{name}[/] (first {show_rows} rows)")
                print_table(catalog.spark.table(name), show_rows)


@app.command()
@exits_cleanly
def backfill(
    first: Annotated[
        datetime,
        typer.Option("--from", formats=["%Y-%m-%d"], help="The first day to process."),
    ],
    last: Annotated[
        datetime,
        typer.Option("--to", formats=["%Y-%m-%d"], help="The last day to process, included."),
    ],
    tables: Annotated[
        list[str] | None,
        typer.Argument(help="Tables to build, with what they need; none means every table."),
    ] = None,
    threads: Threads = None,
    log_format: LogFormatOption = LogFormat.text,
    wait: Wait = False,
) -> None:
    """Run every day from --from to --to in order, as `rainforest run --date` would.

    For recovering missed days: each day's batches land in that day's ingestion partition
    and time rules judge by that day. Days already processed change nothing: a source table
    logs no change twice, and the other tables find nothing new to rebuild.
    """
    if first > last:
        raise typer.BadParameter(
            f"--from {first:%Y-%m-%d} is after --to {last:%Y-%m-%d}; swap them.",
            param_hint="--from",
        )
    days = [(first + timedelta(days=n)).date() for n in range((last - first).days + 1)]
    _run_days(
        tables or [],
        days,
        full_refresh=False,
        force=False,
        threads=threads,
        log_format=log_format,
        wait=wait,
    )


def _run_days(
    tables: list[str],
    days: list[date | None],
    *,
    full_refresh: bool,
    force: bool,
    threads: int | None,
    log_format: LogFormat,
    wait: bool,
) -> SparkSession:
    """Run `tables` (and what they need) once per day of `days`, stopping at the first failed
    day with the run's exit code; the Spark session, for what the caller does next."""
    from etl.cli._progress import JsonEventPrinter, ProgressPrinter
    from etl.core.pipeline import new_context, run_pipeline
    from etl.core.session import build_session

    settings = ServiceSettings.load()
    registry = Registry.discover()
    plan = registry.build_order(tables)
    source = upstream(settings)
    # With JSON events, stdout carries nothing else.
    say = console if log_format is LogFormat.text else error_console
    say.print(f"Building {len(plan)} tables into {settings.warehouse_uri}")
    spark = build_session(settings)
    for day in days:
        if len(days) > 1:
            say.print(f"\n[bold]{day}[/]")
        context = new_context(
            spark,
            settings,
            registry,
            upstream=source,
            logical_date=day,
            full_refresh=full_refresh,
            force=force,
        )
        printer: ProgressPrinter | JsonEventPrinter = (
            ProgressPrinter(console)
            if log_format is LogFormat.text
            else JsonEventPrinter(run_id=context.run_id, logical_date=context.run_date)
        )
        try:
            summary = run_pipeline(context, tables, on_event=printer, threads=threads, wait=wait)
        finally:
            printer.close()
        printer.summary(summary)
        if not summary.ok:
            failed = ", ".join(f"{o.layer}.{o.name}" for o in summary.failures())
            say.print(f"[red]Run {summary.run_id} failed: {failed}[/]")
            raise typer.Exit(summary.exit_code)
    return spark


@app.command("tables")
@exits_cleanly
def list_tables() -> None:
    """List every table with its layer, grain and upstream tables, in build order."""
    from rich.table import Table as RichTable

    listing = RichTable()
    for column in ("table", "grain", "primary key", "upstream"):
        listing.add_column(column)
    for table in Registry.discover().build_order():
        spec = table.spec
        listing.add_row(
            spec.qualified_name, spec.grain, ", ".join(spec.primary_keys), ", ".join(spec.upstream)
        )
    console.print(listing)
