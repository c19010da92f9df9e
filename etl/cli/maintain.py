"""`rainforest maintain [TABLE ...]`: compact, vacuum and checkpoint tables, one line each."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.markup import escape

from etl.cli._lock import Wait, holding
from etl.cli._output import console, exits_cleanly
from etl.core.registry import Registry
from etl.services.settings import ServiceSettings


@exits_cleanly
def maintain(
    tables: Annotated[
        list[str] | None,
        typer.Argument(
            help="Tables to maintain; none means every table with its quarantine, the run log "
            "and the quality results."
        ),
    ] = None,
    retention_hours: Annotated[
        int,
        typer.Option(
            min=0,
            help="Delete files that no version of the last this-many hours needs (default 7 "
            "days); under 24 only with --force.",
        ),
    ] = 168,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Allow a retention under a day: a reader of an older version (a query, a "
            "`history` time travel) may then find its files gone.",
        ),
    ] = False,
    wait: Wait = False,
) -> None:
    """Compact small files (Z-order where a table's spec asks), vacuum files that only old
    versions need, and checkpoint each log; prints files and bytes before and after."""
    from etl.core.upkeep import maintain_tables

    totals = [0, 0]
    settings = ServiceSettings.load()
    with holding(settings, "maintain", wait=wait):
        done = maintain_tables(
            settings,
            Registry.discover(),
            tables or [],
            retention=timedelta(hours=retention_hours),
            force=force,
        )
    for result in done:
        name = escape(result.table)
        outcome = result.maintained
        if outcome is None:
            console.print(f"[yellow]-[/] {name:<36} {result.why}")
            continue
        before, after = outcome.before, outcome.after
        totals[0] += before.stored_bytes
        totals[1] += after.stored_bytes
        console.print(
            f"[green]✓[/] {name:<36} live files {before.live_files:,} → {after.live_files:,}, "
            f"stored {before.stored_files:,} → {after.stored_files:,} "
            f"({_megabytes(before.stored_bytes)} → {_megabytes(after.stored_bytes)}); "
            f"{outcome.files_compacted:,} compacted, {outcome.files_vacuumed:,} vacuumed, "
            f"checkpoint at version {outcome.checkpoint}"
        )
    console.print(f"Stored: {_megabytes(totals[0])} before, {_megabytes(totals[1])} after.")


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"
