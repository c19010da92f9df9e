"""`rainforest datagen`: fill the upstream database with fake, reproducible shop data, or, with
`--advance N`, move the data already there N days forward."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table as RichTable

from etl.cli._output import console, exits_cleanly
from etl.core.errors import ConfigError
from etl.services.settings import ServiceSettings

if TYPE_CHECKING:
    from datagen import DayChanges, Defects
    from etl.core.upstream import Upstream

ALREADY_LOADED = "Schema rainforest already holds data; nothing loaded (--reset replaces it)."
# Options only a load takes: an advance goes on with the scale, seed and clock of the schema.
LOAD_OPTIONS = {
    "scale": "--scale",
    "seed": "--seed",
    "end_date": "--end-date",
    "reset": "--reset",
    "if_empty": "--if-empty",
}


@exits_cleanly
def datagen(
    ctx: typer.Context,
    scale: Annotated[
        float,
        typer.Option(
            help="Size: 1 is about 1,000 users, 10,000 orders and 100,000 clickstream events; "
            "fractions allowed."
        ),
    ] = 1.0,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed and end date give identical data.")
    ] = 42,
    end_date: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="The day (midnight UTC) that closes the 90-day activity window; "
            "today when not given.",
            show_default=False,
        ),
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Drop and recreate schema rainforest first.")
    ] = False,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Load only when the schema holds no orders yet.")
    ] = False,
    dirty: Annotated[
        float | None,
        typer.Option(
            help="Make about this share (e.g. 0.05) of rows defective per kind of defect, "
            "to see the quality rules at work.",
            show_default=False,
        ),
    ] = None,
    advance: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Instead of loading, simulate the next N days of the shop already loaded: "
            "new, edited, late and deleted rows, with the scale and seed it was loaded with.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Generate the upstream tables and COPY them into Postgres, starting the local one if needed;
    or, with --advance N, simulate the next N days of the data already there.

    Without --reset or --if-empty, a schema that already holds data is an error.
    """
    from datagen import DatagenError

    if reset and if_empty:
        raise ConfigError("--reset and --if-empty contradict each other: pass one of them.")
    try:
        if advance is None:
            _generate_and_load(scale, seed, end_date, reset=reset, if_empty=if_empty, dirty=dirty)
        else:
            _refuse_load_options(ctx)
            _advance(advance, dirty=dirty)
    except DatagenError as error:
        raise ConfigError(str(error)) from None


def _refuse_load_options(ctx: typer.Context) -> None:
    # By name: typer ships its own copy of click, whose enum is not click's.
    given = [
        flag
        for name, flag in LOAD_OPTIONS.items()
        if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"
    ]
    if given:
        raise ConfigError(
            f"--advance goes on with the data already loaded, at the scale and seed it was "
            f"generated with: drop {', '.join(given)}, or load anew without --advance."
        )


def _upstream_database() -> Upstream:
    """The upstream database, its server started when it is the local one."""
    from datagen import SCHEMA
    from etl.services.postgres import LocalPostgres, mask_dsn

    server = LocalPostgres(ServiceSettings.load())
    console.print(f"Upstream database: {mask_dsn(server.up())}")
    return server.upstream(SCHEMA)


def _generate_and_load(
    scale: float,
    seed: int,
    end_date: datetime | None,
    *,
    reset: bool,
    if_empty: bool,
    dirty: float | None,
) -> None:
    from datagen import default_end_date, generate, has_data, inject_defects, load, row_counts

    database = _upstream_database()
    if if_empty:
        with database.connect() as conn:
            if has_data(conn):
                console.print(ALREADY_LOADED)
                return

    day = end_date.date() if end_date else default_end_date()
    started = time.perf_counter()
    with console.status(f"Generating scale {scale:g} data (seed {seed}, window ends {day})"):
        tables = generate(scale=scale, seed=seed, end_date=day)
        defects = None
        if dirty:
            tables, defects = inject_defects(tables, rate=dirty, seed=seed)
    generated = time.perf_counter()
    with console.status("Loading with COPY"), database.connect() as conn:
        mode = "reset" if reset else "if_empty" if if_empty else "fail"
        loaded = load(conn, tables, scale=scale, seed=seed, end_date=day, mode=mode)
    finished = time.perf_counter()
    if not loaded:
        console.print(ALREADY_LOADED)
        return

    console.print(f"Loaded scale {scale:g}, seed {seed}, end date {day}:")
    summary = RichTable()
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    for name, rows in row_counts(tables).items():
        summary.add_row(name, f"{rows:,}")
    console.print(summary)
    if defects is not None:
        _print_defects(defects)
    console.print(
        f"Generated in {generated - started:.1f} s, loaded in {finished - generated:.1f} s."
    )


def _advance(days: int, *, dirty: float | None) -> None:
    from datagen import Defects, advance

    database = _upstream_database()
    started = time.perf_counter()
    with console.status(f"Simulating {days} day(s)"), database.connect() as conn:
        simulated = advance(conn, days=days, dirty=dirty)
    finished = time.perf_counter()
    for day in simulated:
        console.print(_day_summary(day))
    reports = [day.defects for day in simulated if day.defects is not None]
    if reports:
        _print_defects(Defects.combined(reports))
    console.print(
        f"Simulated {days} day(s), through {simulated[-1].day}, in {finished - started:.1f} s."
    )


def _day_summary(day: DayChanges) -> RichTable:
    summary = RichTable(title=f"{day.day} ({day.seconds:.1f} s)")
    summary.add_column("table")
    for column in ("inserted", "updated", "deleted"):
        summary.add_column(column, justify="right")
    for name, counts in day.counts().items():
        summary.add_row(name, *(f"{count:,}" for count in counts))
    return summary


def _print_defects(defects: Defects) -> None:
    injected = RichTable(title=f"Defects injected (rate {defects.rate:g})")
    injected.add_column("defect")
    injected.add_column("upstream table")
    injected.add_column("rows", justify="right")
    for kind, count in defects.counts().items():
        injected.add_row(kind, defects.tables[kind], f"{count:,}")
    console.print(injected)
