"""How a table is kept up to date, declared in its spec: one line of metadata per table.

    spec = TableSpec(..., strategy=merge("buyer_id", via={"appuser": "user_id"}))

- `full()`: every build recomputes the whole table from its inputs' current state. Right for
  small tables; a build whose inputs did not change is skipped.
- `merge(key)`: a build recomputes only the rows whose inputs changed since the versions
  its last build consumed, and replaces exactly those rows (keys whose source rows are gone
  disappear).
- `by_date(column)`: the table is partitioned by `column` (a date); a build recomputes the
  dates that changed input rows touch and replaces exactly those partitions.

Both incremental strategies replace "the rows whose `on` column takes one of the affected
values". The table's first upstream is its *driving* input: every output row is made from
driving rows with the same `on` value (an order item from its item row; a day's metrics from
that day's facts), so recomputing a value means filtering the driving input to it. Which
values are affected is worked out from what changed upstream:

- in the driving input: the `on` values of changed rows, before and after the change;
- in an input named in `via` (upstream -> column), which the transform joins to the
  driving rows on that column: the driving rows whose column holds a value that changed rows
  of that input had, before or after (a user's new email reaches `dim_buyer` through the
  buyers with that `user_id`). A replacing build reads only the rows of such an input that
  join the driving rows it recomputes;
- rules that look beyond the row add their own: `references` (keys that appeared or
  disappeared), `sum_of` (rows of the summed table), `not_in_future` (rows whose time lies
  between the previous build's logical date and this one's), and `first_of` or `unique` on
  other columns (every row equal in those columns is judged again with the changed ones).

A change in an input the table cannot trace this way (not driving, not in `via`, not looked
into by a rule) rebuilds the table in full, and the run says why; so does a build that would
touch more than half of the table. Both keep the result equal to a full refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

StrategyKind = Literal["full", "merge", "by_date"]

MOST_OF_THE_TABLE = 0.5
"""Share of the table's rows (merge) or dates (by date) beyond which a full rebuild is cheaper."""


@dataclass(frozen=True)
class Strategy:
    """How a table's builds carry on from its last one; build it with `full`, `merge`, `by_date`."""

    kind: StrategyKind = "full"
    on: str | None = None
    """The column whose values select the rows a build replaces."""
    via: tuple[tuple[str, str], ...] = ()
    """(upstream, column) pairs: see the module's docstring."""

    @property
    def incremental(self) -> bool:
        return self.kind != "full"

    @property
    def via_columns(self) -> dict[str, str]:
        return dict(self.via)

    def describe(self) -> str:
        """As the run summary names it: `full`, `merge(order_id)`, `by_date(order_date)`."""
        return self.kind if self.on is None else f"{self.kind}({self.on})"


def full() -> Strategy:
    """Recompute the whole table whenever an input changed."""
    return Strategy()


def merge(key: str, *, via: Mapping[str, str] | None = None) -> Strategy:
    """Replace the rows of the `key` values (a primary key column) whose inputs changed."""
    return Strategy(kind="merge", on=key, via=tuple((via or {}).items()))


def by_date(column: str, *, via: Mapping[str, str] | None = None) -> Strategy:
    """Partition by `column` and replace the partitions that changed inputs touch."""
    return Strategy(kind="by_date", on=column, via=tuple((via or {}).items()))
