"""`rainforest plan [TABLE ...]`: what `rainforest run` would build and why, without building.

A true dry run: it reads the Delta logs (delta-rs) and asks the upstream database one query
per source table (psycopg2). No Spark session starts, nothing is written, no lock is taken.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from etl.cli._output import console, exits_cleanly, print_whole
from etl.cli._wiring import upstream
from etl.core.registry import Registry
from etl.services.settings import ServiceSettings


class PlanFormat(StrEnum):
    text = "text"
    json = "json"


@exits_cleanly
def plan(
    tables: Annotated[
        list[str] | None,
        typer.Argument(help="Tables to plan, with what they need; none means every table."),
    ] = None,
    logical_date: Annotated[
        datetime | None,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help="The day the run would process, YYYY-MM-DD. Default: today (UTC).",
        ),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Plan a run with --full-refresh.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Plan a run with --force.")] = False,
    output: Annotated[
        PlanFormat,
        typer.Option(
            "--format", help="text: a table for people; json: one JSON object per line and table."
        ),
    ] = PlanFormat.text,
) -> None:
    """Show, per table, whether `rainforest run` with the same arguments would build it or
    skip it, why, and what it would touch. Starts no Spark job and writes nothing.

    A table downstream of one that would build is planned as changing; the run itself may then
    find that no change touches its rows and skip it.
    """
    from etl.core.lake import LakeLog
    from etl.core.planning import plan_run

    started = time.perf_counter()
    settings = ServiceSettings.load()
    day = logical_date.date() if logical_date else datetime.now(UTC).date()
    planned = plan_run(
        Registry.discover(),
        settings,
        LakeLog(settings),
        upstream=upstream(settings),
        run_date=day,
        targets=tables or [],
        full_refresh=full_refresh,
        force=force,
    )
    seconds = time.perf_counter() - started
    if output is PlanFormat.json:
        for line in planned:
            record = json.dumps({"logical_date": day.isoformat(), **asdict(line)})
            console.print(record, markup=False, highlight=False, soft_wrap=True)
        return
    listing = RichTable(title=f"Plan for {day} in {settings.warehouse_uri}", title_justify="left")
    for column in ("table", "action", "how", "why", "touches"):
        listing.add_column(column)
    for line in planned:
        action = _ACTION_STYLE[line.action].format(line.action)
        listing.add_row(
            escape(line.table), action, escape(line.how), escape(line.reason), escape(line.touches)
        )
    print_whole(listing)
    counts = Counter(line.action for line in planned)
    console.print(
        f"{counts['build']} to build, {counts['check']} to check (built if changes touch their "
        f"rows), {counts['skip']} up to date; planned in {seconds:.1f} s (nothing was written)."
    )


_ACTION_STYLE = {"build": "[green]{}[/]", "check": "[yellow]{}[/]", "skip": "[dim]{}[/]"}
