"""The one pattern every name the framework hands to SQL or to a folder must match.

Table, view and rule names become temporary view names, folder names and column values;
keeping them snake_case means they never need quoting or escaping anywhere.
"""

from __future__ import annotations

import re

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")


def check_snake_case(name: str, *, what: str) -> str:
    """`name` unchanged, or a `ValueError` that says which `what` (e.g. "Table name") is wrong."""
    if not SNAKE_CASE.match(name):
        raise ValueError(f"{what} {name!r} must be snake_case ([a-z][a-z0-9_]*)")
    return name


def row_count(count: int) -> str:
    """`1 row`, `2,048 rows`: a count of rows as messages print it."""
    return f"{count:,} row" if count == 1 else f"{count:,} rows"
