"""`rainforest datagen`: fill the upstream database with fake, reproducible shop data."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table as RichTable

from etl.cli._output import console, exits_cleanly
from etl.core.errors import ConfigError
from etl.services.settings import ServiceSettings

ALREADY_LOADED = "Schema rainforest already holds data; nothing loaded (--reset replaces it)."


@exits_cleanly
def datagen(
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
) -> None:
    """Generate the upstream tables and COPY them into Postgres, starting the local one if needed.

    Without --reset or --if-empty, a schema that already holds data is an error.
    """
    from datagen import DatagenError

    if reset and if_empty:
        raise ConfigError("--reset and --if-empty contradict each other: pass one of them.")
    try:
        _generate_and_load(scale, seed, end_date, reset=reset, if_empty=if_empty, dirty=dirty)
    except DatagenError as error:
        raise ConfigError(str(error)) from None


def _generate_and_load(
    scale: float,
    seed: int,
    end_date: datetime | None,
    *,
    reset: bool,
    if_empty: bool,
    dirty: float | None,
) -> None:
    from datagen import (
        SCHEMA,
        default_end_date,
        generate,
        has_data,
        inject_defects,
        load,
        row_counts,
    )
    from etl.services.postgres import LocalPostgres, mask_dsn

    server = LocalPostgres(ServiceSettings.load())
    console.print(f"Upstream database: {mask_dsn(server.up())}")
    database = server.upstream(SCHEMA)
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
        loaded = load(conn, tables, mode="reset" if reset else "if_empty" if if_empty else "fail")
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
        injected = RichTable(title=f"Defects injected (rate {defects.rate:g})")
        injected.add_column("defect")
        injected.add_column("upstream table")
        injected.add_column("rows", justify="right")
        for kind, count in defects.counts().items():
            injected.add_row(kind, defects.tables[kind], f"{count:,}")
        console.print(injected)
    console.print(
        f"Generated in {generated - started:.1f} s, loaded in {finished - generated:.1f} s."
    )
