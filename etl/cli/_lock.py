"""Holding the warehouse from a command, and the words for waiting on it or taking it over."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.markup import escape

from etl.cli._output import error_console
from etl.core.lock import Holder, holding_warehouse
from etl.core.settings import Settings

Wait = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="If another command holds the warehouse, wait until it ends instead of stopping "
        "with exit code 4.",
    ),
]


def waiting_text(holder: Holder) -> str:
    return f"Waiting for {escape(holder.describe())} to release the warehouse"


def took_over_text(previous: Holder) -> str:
    return (
        f"[yellow]warning:[/] took over the warehouse from {escape(previous.describe())}, which "
        "stopped renewing its lock; its tables kept their last committed versions"
    )


@contextmanager
def holding(settings: Settings, purpose: str, *, wait: bool) -> Iterator[None]:
    """Hold the warehouse for a command that is not a run (`maintain`, `restore`)."""
    holder = Holder.this_process(run_id=uuid.uuid4().hex[:12], purpose=purpose)
    with holding_warehouse(
        settings, holder, wait=wait, on_wait=lambda other: error_console.print(waiting_text(other))
    ) as lock:
        if lock.taken_over is not None:
            error_console.print(took_over_text(lock.taken_over))
        yield
