"""Console output shared by every command; user errors print as a message, not a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from etl.core.errors import RainforestError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

P = ParamSpec("P")
R = TypeVar("R")


def exits_cleanly(command: Callable[P, R]) -> Callable[P, R]:
    """Turn an error the user can fix into its message and its exit code (see `etl.core.errors`)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except RainforestError as error:
            error_console.print("[red]error:[/]", escape(str(error)))
            raise typer.Exit(error.exit_code) from None

    return wrapper


def print_whole(table: RichTable, output: Console = console) -> None:
    """Print a rich table; to a pipe or a log, which has no width to fit, with whole rows
    rather than cut names."""
    width = output.width
    if not output.is_terminal:
        natural = table.__rich_measure__(output, output.options.update(max_width=1000))
        output.width = max(width, natural.maximum)
    try:
        output.print(table)
    finally:
        output.width = width


def print_table(result: DataFrame, max_rows: int) -> bool:
    """Print at most `max_rows` rows; whether there were more."""
    from pyspark.sql.types import NumericType
    from rich.table import Table as RichTable
    from rich.text import Text

    rows = result.limit(max_rows + 1).collect()
    shown = RichTable()
    for field in result.schema.fields:
        numeric = isinstance(field.dataType, NumericType)
        shown.add_column(field.name, justify="right" if numeric else "left")
    for row in rows[:max_rows]:
        # Text, not markup: a value like "[b]" must print as it is.
        shown.add_row(*(Text("NULL", "dim") if v is None else Text(str(v)) for v in row))
    console.print(shown)
    return len(rows) > max_rows
