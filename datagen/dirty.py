"""Realistic defects in generated data, for testing that the pipeline's quality rules catch them.

Every defect is one the upstream schema allows (it checks structure, not business rules), and
each kind touches rows that no other kind touches, so a test can compare, kind by kind, the
rows the pipeline quarantined with the rows `inject_defects` reports. Deterministic for the
seed.

Kinds, and the rule that should catch each:

- `non_positive_price`: an order item's `base_price` is 0 or negative (its order's total
  is recomputed, so only the price is wrong);
- `negative_quantity`: an order item's `quantity` is negative (total recomputed likewise);
- `total_mismatch`: an order's `total_price` is off from its items by 0.02 to 50.00;
- `rating_above_5`: every rating of a product is on a 6-10 scale, so its mean exceeds 5;
- `malformed_email`: a user's email lacks its @, has a space or no top-level domain;
- `unknown_event_type`: a clickstream event's type is not one the shop emits;
- `future_timestamp`: a clickstream event is dated 10 years after the data's end;
- `duplicate_event`: a clickstream event recorded again under a new id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datagen.draws import cents
from datagen.errors import DatagenError

UNKNOWN_EVENT_TYPES = ("page_view", "add-to-cart", "wishlist", "VIEW")
FUTURE_SECONDS = 10 * 365 * 86_400


@dataclass(frozen=True, kw_only=True)
class Defects:
    """What `inject_defects` did: per kind, the upstream table and the ids of the rows touched.

    For `duplicate_event` the ids are the new copies; for `rating_above_5` they are product
    ids (all of the product's ratings were changed).
    """

    rate: float
    ids: dict[str, tuple[int, ...]] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {kind: len(ids) for kind, ids in self.ids.items()}

    @classmethod
    def combined(cls, reports: list[Defects]) -> Defects:
        """One report for rows made defective in batches at one rate, as `advance` does daily."""
        ids: dict[str, tuple[int, ...]] = {}
        for report in reports:
            for kind, touched in report.ids.items():
                ids[kind] = ids.get(kind, ()) + touched
        tables = {kind: table for report in reports for kind, table in report.tables.items()}
        return cls(rate=reports[0].rate, ids=ids, tables=tables)


def inject_defects(
    tables: dict[str, pa.Table], *, rate: float, seed: int = 42
) -> tuple[dict[str, pa.Table], Defects]:
    """A copy of `tables` (from `generate`) with about `rate` of the rows of each kind's table
    made defective (at least one row per kind), and the report of what changed.

    Example::

        dirty, defects = inject_defects(generate(scale=0.05), rate=0.05, seed=7)
        defects.counts()  # {"non_positive_price": 73, ...}
    """
    if not 0 < rate < 0.2:
        raise DatagenError(f"The dirty rate must be above 0 and below 0.2, not {rate}.")
    return _Injector(dict(tables), rate=rate, seed=seed).run()


class _Injector:
    def __init__(self, tables: dict[str, pa.Table], *, rate: float, seed: int) -> None:
        self.tables = tables
        self.rate = rate
        # Offset from the generator's own stream, so clean data stays identical for the seed.
        self.rng = np.random.default_rng([seed, 0xD1127])
        self.ids: dict[str, tuple[int, ...]] = {}
        self.homes: dict[str, str] = {}

    def run(self) -> tuple[dict[str, pa.Table], Defects]:
        self._order_items()
        self._order_totals()
        self._ratings()
        self._emails()
        self._clickstream()
        return self.tables, Defects(rate=self.rate, ids=self.ids, tables=self.homes)

    def _pick(self, candidates: np.ndarray, share: float | None = None) -> np.ndarray:
        """Sorted distinct positions out of `candidates`: `share` (default the rate) of them."""
        count = min(candidates.size, max(1, round((share or self.rate) * candidates.size)))
        return np.sort(self.rng.choice(candidates, count, replace=False))

    def _record(self, kind: str, table: str, ids: np.ndarray) -> None:
        self.ids[kind] = tuple(int(i) for i in ids)
        self.homes[kind] = table

    def _order_items(self) -> None:
        items = self.tables["orderitem"]
        quantity = items.column("quantity").to_numpy().copy()
        price_cents = cents(items.column("base_price"))
        chosen = self._pick(np.arange(items.num_rows), 2 * self.rate)
        priced, negative = chosen[::2], chosen[1::2]
        price_cents[priced] = -self.rng.integers(0, 2, priced.size) * price_cents[priced]
        quantity[negative] = -quantity[negative]
        item_ids = items.column("orderitem_id").to_numpy()
        self._record("non_positive_price", "orderitem", item_ids[priced])
        self._record("negative_quantity", "orderitem", item_ids[negative])
        items = _set(items, "base_price", _money(price_cents, items.column("base_price").type))
        self.tables["orderitem"] = _set(items, "quantity", pa.array(quantity, pa.int32()))
        self._recompute_totals()

    def _recompute_totals(self) -> None:
        """Totals as the shop computes them, from the items as stored, defects included."""
        items = self.tables["orderitem"]
        quantity = items.column("quantity").to_numpy().astype(np.int64)
        lines = quantity * cents(items.column("base_price")) + cents(items.column("tax"))
        orders = self.tables["orders"]
        order_ids = orders.column("order_id").to_numpy()
        item_orders = items.column("order_id").to_numpy()
        # A day of `advance` also adds items to earlier orders, which are not in the table.
        own = np.isin(item_orders, order_ids)
        totals = np.zeros(order_ids.size, dtype=np.int64)
        np.add.at(totals, np.searchsorted(order_ids, item_orders[own]), lines[own])
        self.tables["orders"] = _set(
            orders, "total_price", _money(totals, orders.column("total_price").type)
        )

    def _order_totals(self) -> None:
        orders = self.tables["orders"]
        chosen = self._pick(np.arange(orders.num_rows))
        totals = cents(orders.column("total_price"))
        delta = self.rng.integers(2, 5_001, chosen.size) * self.rng.choice([-1, 1], chosen.size)
        totals[chosen] += delta
        self._record("total_mismatch", "orders", orders.column("order_id").to_numpy()[chosen])
        self.tables["orders"] = _set(
            orders, "total_price", _money(totals, orders.column("total_price").type)
        )

    def _ratings(self) -> None:
        ratings = self.tables["ratings"]
        product = ratings.column("product_id").to_numpy()
        products = self._pick(np.unique(product))
        affected = np.isin(product, products)
        values = ratings.column("rating").to_numpy().copy()
        values[affected] = self.rng.integers(6, 11, int(affected.sum()))
        self._record("rating_above_5", "product", products)
        self.tables["ratings"] = _set(ratings, "rating", pa.array(values, pa.int16()))

    def _emails(self) -> None:
        users = self.tables["appuser"]
        chosen = self._pick(np.arange(users.num_rows))
        emails = users.column("email").to_pylist()
        breakers = (
            lambda e: e.replace("@", ""),
            lambda e: e.replace("@", " @"),
            lambda e: e.rsplit(".", 1)[0],
        )
        for position in chosen:
            emails[position] = breakers[self.rng.integers(len(breakers))](emails[position])
        self._record("malformed_email", "appuser", users.column("user_id").to_numpy()[chosen])
        self.tables["appuser"] = _set(users, "email", pa.array(emails, pa.string()))

    def _clickstream(self) -> None:
        events = self.tables["clickstream"]
        ids = events.column("clickstream_id").to_numpy()
        chosen = self._pick(np.arange(events.num_rows), 3 * self.rate)
        unknown, future, copied = chosen[::3], chosen[1::3], chosen[2::3]
        types = events.column("event_type").to_pylist()
        for position in unknown:
            types[position] = UNKNOWN_EVENT_TYPES[self.rng.integers(len(UNKNOWN_EVENT_TYPES))]
        ts = events.column("event_ts")
        seconds = pc.divide(ts.cast(pa.int64()), 1_000_000).to_numpy().copy()
        seconds[future] = seconds.max() + FUTURE_SECONDS + self.rng.integers(0, 86_400, future.size)
        events = _set(events, "event_type", pa.array(types, pa.string()))
        events = _set(
            events,
            "event_ts",
            pa.array(seconds * 1_000_000, pa.int64()).cast(ts.type),
        )
        copies = events.take(pa.array(copied))
        new_ids = ids.max() + 1 + np.arange(copied.size)
        copies = _set(copies, "clickstream_id", pa.array(new_ids, events.schema.field(0).type))
        self._record("unknown_event_type", "clickstream", ids[unknown])
        self._record("future_timestamp", "clickstream", ids[future])
        self._record("duplicate_event", "clickstream", new_ids)
        self.tables["clickstream"] = pa.concat_tables([events, copies])


def _set(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _money(cents: np.ndarray, kind: pa.DataType) -> pa.Array:
    return pa.array([Decimal(int(c)).scaleb(-2) for c in cents], kind)
