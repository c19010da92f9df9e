"""Console output shared by every command; user errors print as a message, not a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from etl.core.errors import RainforestError

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

P = ParamSpec("P")
R = TypeVar("R")


def exits_cleanly(command: Callable[P, R]) -> Callable[P, R]:
    """Turn an error the user can fix into its message and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except RainforestError as error:
            error_console.print("[red]error:[/]", escape(str(error)))
            raise typer.Exit(1) from None

    return wrapper
