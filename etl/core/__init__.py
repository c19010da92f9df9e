"""The table framework; this package is the whole surface a table file needs.

A table file imports from here and from nothing else of the framework::

    from etl.core import Table, TableSpec, not_null, references

    class FactOrders(Table):
        \"\"\"One row per order.\"\"\"

        spec = TableSpec(name="fact_orders", grain="one row per order", ...)

The names load on first use (`etl.core.lazy`); the ones not listed in `_HOMES` are the rule
constructors of `etl.core.quality.rules`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from etl.core.dataset import ETLDataSet, TableSpec
    from etl.core.history import HistoryTable, history_spec
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
    from etl.core.source_table import INGESTION_DATE, SourceTable, source_spec
    from etl.core.strategy import Strategy, by_date, full, merge
    from etl.core.table import Table

__all__ = [
    "EMAIL",
    "INGESTION_DATE",
    "ETLDataSet",
    "HistoryTable",
    "Rule",
    "Severity",
    "SourceTable",
    "Strategy",
    "Table",
    "TableSpec",
    "between",
    "by_date",
    "equals_within",
    "expect",
    "first_of",
    "full",
    "history_spec",
    "in_set",
    "matches",
    "mean_between",
    "merge",
    "not_in_future",
    "not_null",
    "references",
    "source_spec",
    "sum_of",
    "unique",
]

_HOMES = {
    "ETLDataSet": "etl.core.dataset",
    "TableSpec": "etl.core.dataset",
    "Table": "etl.core.table",
    "HistoryTable": "etl.core.history",
    "history_spec": "etl.core.history",
    "SourceTable": "etl.core.source_table",
    "source_spec": "etl.core.source_table",
    "INGESTION_DATE": "etl.core.source_table",
    "Strategy": "etl.core.strategy",
    "by_date": "etl.core.strategy",
    "full": "etl.core.strategy",
    "merge": "etl.core.strategy",
}
_HOMES.update((name, "etl.core.quality.rules") for name in __all__ if name not in _HOMES)
__getattr__ = lazy_attributes(__name__, _HOMES)
