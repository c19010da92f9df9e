"""Rounding of money aggregates, shared so every gold amount rounds the same way.

Means and medians are computed exactly in decimal and rounded once, half up to the cent,
as Postgres's `round(numeric, 2)` does, so that they can be compared to the cent with
Postgres. Spark's `avg` and `median` are not used: `avg` of a decimal keeps 6 decimal
places, which makes a second, earlier rounding, and `median` (like `percentile`) returns a
double, whose rounding to cents is wrong for about one in eight pairs of middle values.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

USD = "decimal(12,2)"
USD_SUM = "decimal(22,2)"
"""The type of a sum of `USD` amounts as Spark widens it, and so of a 0 where none were summed."""


def cents(amount: Column) -> Column:
    """`amount` rounded half up (away from zero) to 2 decimals, as `decimal(12,2)`."""
    return F.round(amount, 2).cast(USD)


def mean_usd(amount: str) -> Column:
    """The mean of the non-null values of `amount`, like SQL's `avg`; null when there are none."""
    return cents(F.try_divide(F.sum(amount), F.count(amount)))


def median_usd(amount: str) -> Column:
    """The exact median of the non-null values of `amount`, like `percentile_cont(0.5)`.

    The mean of the two middle values for an even count, the middle one for an odd count
    (both indices then name it), and null when there are none (`get` is null out of range).
    The group's values are held in one array, fine for the items of one day and category.
    """
    values = F.array_sort(F.collect_list(amount))
    count = F.size(values)
    lower = F.get(values, F.floor((count - 1) / 2).cast("int"))
    upper = F.get(values, F.floor(count / 2).cast("int"))
    return cents((lower + upper) / 2)
