"""Data quality: rules declared with a table, checked before it is written.

Declare rules in `TableSpec.rules` with the constructors of `rules`; `Table.validate` checks
them (`engine`), the run publishes their results (`results`) and GX Data Docs (`gx`).
"""

from __future__ import annotations

from etl.core.quality.rules import (
    EMAIL,
    Rule,
    Severity,
    between,
    equals_within,
    expect,
    first_of,
    in_set,
    matches,
    mean_between,
    not_in_future,
    not_null,
    references,
    sum_of,
    unique,
)

__all__ = [
    "EMAIL",
    "Rule",
    "Severity",
    "between",
    "equals_within",
    "expect",
    "first_of",
    "in_set",
    "matches",
    "mean_between",
    "not_in_future",
    "not_null",
    "references",
    "sum_of",
    "unique",
]
