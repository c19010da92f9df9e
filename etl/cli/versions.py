"""`rainforest history TABLE` and `rainforest restore TABLE`: a table's versions, and rolling
it back. Both read and write the Delta log directly, without Spark."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from etl.cli._lock import Wait, holding
from etl.cli._output import console, exits_cleanly, print_whole
from etl.core.registry import Registry
from etl.services.settings import ServiceSettings

TableName = Annotated[str, typer.Argument(help="A table, e.g. wide_orders or gold.wide_orders.")]


@exits_cleanly
def history(
    table: TableName,
    last: Annotated[int, typer.Option("--last", min=1, help="How many versions to list.")] = 20,
) -> None:
    """List a table's versions, newest first: time, how it was written, rows, run and why."""
    from etl.core.rollback import table_versions

    versions = table_versions(ServiceSettings.load(), Registry.discover(), table, last=last)
    listing = RichTable(title=f"{table}: the last {len(versions)} versions", title_justify="left")
    for column in ("version", "time (UTC)", "operation", "build", "rows", "run", "why"):
        listing.add_column(column, justify="right" if column in ("version", "rows") else "left")
    for v in versions:
        listing.add_row(
            str(v.version),
            f"{v.timestamp:%Y-%m-%d %H:%M:%S}",
            escape(v.operation),
            escape(v.build or ""),
            f"{v.rows:,}",
            escape(v.run_id or ""),
            escape(v.why or ""),
        )
    print_whole(listing)


@exits_cleanly
def restore(
    table: TableName,
    version: Annotated[
        int | None, typer.Option("--version", min=0, help="The version to make current.")
    ] = None,
    timestamp: Annotated[
        datetime | None,
        typer.Option(
            "--timestamp",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
            help="Instead of --version: the newest version committed at or before this UTC time.",
        ),
    ] = None,
    wait: Wait = False,
) -> None:
    """Make an earlier version of a table current again, in a new version (the log keeps
    every version). Tables downstream rebuild whole on the next run."""
    from etl.core.rollback import restore_table

    if (version is None) == (timestamp is None):
        raise typer.BadParameter("give either --version or --timestamp", param_hint="--version")
    at = timestamp.replace(tzinfo=UTC) if timestamp is not None else None
    settings = ServiceSettings.load()
    with holding(settings, f"restore {table}", wait=wait):
        done = restore_table(settings, Registry.discover(), table, version=version, at=at)
    restored = done.restored
    console.print(
        f"{done.table} is at version {restored.restored}'s state again, as its version "
        f"{restored.version} ({restored.files_added} files back, {restored.files_removed} set "
        "aside; nothing is deleted)."
    )
    if done.downstream:
        console.print(
            f"The next run rebuilds {len(done.downstream)} tables downstream in full: "
            f"{', '.join(done.downstream)}."
        )
