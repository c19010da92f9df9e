"""How the shop's rows are drawn: the pieces `generate` (90 days at once) and `advance` (day by
day) share, so both make the same kind of products, orders, sessions and ratings.

Everything here is a pure function of a numpy random generator and arrays. Rows refer to other
rows by position in the caller's arrays (product 0, seller 3, order 7); the caller maps
positions to keys, `arange(1, n + 1)` for a fresh schema or the keys already in Postgres.
Timestamps are whole seconds since the epoch, money is integer cents, so totals stay exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DAY = 86_400
HOUR = 3_600
EVENT_TYPES = ("view", "add_to_cart", "checkout", "purchase")
VIEW, ADD_TO_CART, CHECKOUT, PURCHASE = range(4)
ADJECTIVES = (
    "Compact",
    "Deluxe",
    "Eco",
    "Ergonomic",
    "Classic",
    "Portable",
    "Smart",
    "Wireless",
    "Premium",
    "Rugged",
    "Slim",
    "Vintage",
)
NOUNS = (
    "Backpack",
    "Blender",
    "Headphones",
    "Lamp",
    "Notebook",
    "Kettle",
    "Sneakers",
    "Watch",
    "Jacket",
    "Speaker",
    "Drill",
    "Camera",
    "Chair",
    "Puzzle",
    "Mug",
    "Charger",
)
TAX_RATES_BPS = np.array([0, 500, 725, 800, 1000])
RATING_WEIGHTS = np.array([0.05, 0.07, 0.15, 0.33, 0.40])
# Items per order: one, plus a binomial number of extra ones.
EXTRA_ITEMS, EXTRA_ITEM_CHANCE = 4, 0.5
MEAN_ITEMS_PER_ORDER = 1 + EXTRA_ITEMS * EXTRA_ITEM_CHANCE

Events = dict[str, np.ndarray]
"""Clickstream events as parallel arrays: session, position in it, type, user, product, order
(-1 for none), ts (when it happened) and arrived (when the shop recorded it)."""


@dataclass(frozen=True, kw_only=True)
class Catalogue:
    """What order items are drawn from: products by popularity, and the offers of each.

    Offers are grouped by product, so a product's sellers are one contiguous run starting at
    `first_offer[product]`. A product's weight must be 0 when it has no offer.
    """

    weights: np.ndarray
    price_cents: np.ndarray
    offer_seller: np.ndarray
    first_offer: np.ndarray
    offers_per_product: np.ndarray

    @classmethod
    def of(
        cls,
        *,
        weights: np.ndarray,
        price_cents: np.ndarray,
        offer_product: np.ndarray,
        offer_seller: np.ndarray,
    ) -> Catalogue:
        """From offers sorted by product."""
        offers_per_product = np.bincount(offer_product, minlength=price_cents.size)
        return cls(
            weights=weights,
            price_cents=price_cents,
            offer_seller=offer_seller,
            first_offer=np.cumsum(offers_per_product) - offers_per_product,
            offers_per_product=offers_per_product,
        )


@dataclass(frozen=True, kw_only=True)
class Items:
    """The items of a run of orders, order by order; `total_cents` is per order."""

    per_order: np.ndarray
    first: np.ndarray
    order: np.ndarray
    product: np.ndarray
    seller: np.ndarray
    quantity: np.ndarray
    base_cents: np.ndarray
    tax_cents: np.ndarray
    total_cents: np.ndarray


def uniform_ts(
    rng: np.random.Generator, low: np.ndarray | int, high: np.ndarray | int, size: int
) -> np.ndarray:
    """Whole seconds drawn uniformly from [low, high)."""
    low = np.asarray(low, dtype=np.int64)
    high = np.asarray(high, dtype=np.int64)
    return low + (rng.random(size) * (high - low)).astype(np.int64)


def keyed_table(
    key: str,
    first_key: int,
    columns: dict[str, pa.Array | pa.ChunkedArray | np.ndarray | list[str]],
    *,
    created: np.ndarray,
    updated: np.ndarray,
) -> pa.Table:
    """A table with its surrogate key (first_key, first_key + 1, ...) first and the audit
    columns last, as the schema orders them."""
    return pa.table(
        {
            key: pa.array(np.arange(first_key, first_key + created.size)),
            **{name: pa.array(values) for name, values in columns.items()},
            "created_ts": timestamps(created),
            "last_updated_ts": timestamps(updated),
        }
    )


def username(first: str, last: str, user_id: int) -> str:
    """Initial and last name in lower-case letters, then the id, which makes it unique."""
    return re.sub(r"[^a-z]", "", f"{first[0]}{last}".lower()) + str(user_id)


def product_names(rng: np.random.Generator, brand_names: np.ndarray) -> list[str]:
    """One name per product, from its brand's name: "Acme Portable Kettle"."""
    count = len(brand_names)
    return [
        f"{brand} {adjective} {noun}"
        for brand, adjective, noun in zip(
            brand_names, rng.choice(ADJECTIVES, count), rng.choice(NOUNS, count), strict=True
        )
    ]


def price_cents(rng: np.random.Generator, count: int) -> np.ndarray:
    """Log-normal around 25.00, as shop prices are: many cheap products, a few dear ones."""
    return np.clip(np.round(rng.lognormal(np.log(2_500), 1.0, count)), 99, 500_000).astype(np.int64)


def category_counts(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.choice([1, 2, 3], count, p=[0.5, 0.3, 0.2])


def offer_counts(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(1, 5, count)


def links(
    rng: np.random.Generator, per_left: np.ndarray, right_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Up to `per_left[i]` distinct partners out of `right_size` for each left row i (products
    to categories, products to sellers), sorted by left, then right."""
    left, _ = _expand(per_left)
    right = rng.integers(0, right_size, left.size)
    return _distinct_pairs(left, right, right_size)


def items_per_order(rng: np.random.Generator, count: int) -> np.ndarray:
    return 1 + rng.binomial(EXTRA_ITEMS, EXTRA_ITEM_CHANCE, count)


def order_items(
    rng: np.random.Generator,
    catalogue: Catalogue,
    per_order: np.ndarray,
    *,
    rate_bps: np.ndarray | None = None,
) -> Items:
    """`per_order[i]` items for order i: popular products, each from one of its sellers, priced
    at the product's price and taxed at the order's rate (drawn when `rate_bps` is None)."""
    order, _ = _expand(per_order)
    count = order.size
    product = rng.choice(catalogue.weights.size, count, p=catalogue.weights)
    offer = catalogue.first_offer[product] + (
        rng.random(count) * catalogue.offers_per_product[product]
    ).astype(np.int64)
    quantity = np.minimum(rng.geometric(0.6, count), 10).astype(np.int64)  # mostly 1, at most 10
    base_cents = catalogue.price_cents[product]
    if rate_bps is None:
        rate_bps = rng.choice(TAX_RATES_BPS, per_order.size)
    tax = tax_cents(quantity, base_cents, rate_bps[order])
    first = np.cumsum(per_order) - per_order
    return Items(
        per_order=per_order,
        first=first,
        order=order,
        product=product,
        seller=catalogue.offer_seller[offer],
        quantity=quantity,
        base_cents=base_cents,
        tax_cents=tax,
        total_cents=np.add.reduceat(quantity * base_cents + tax, first),
    )


def tax_cents(quantity: np.ndarray, base_cents: np.ndarray, rate_bps: np.ndarray) -> np.ndarray:
    """A line's tax in whole cents, rounded half up, as the shop computes it."""
    return (quantity * base_cents * rate_bps + 5_000) // 10_000


def tax_rate_bps(quantity: np.ndarray, base_cents: np.ndarray, tax: np.ndarray) -> np.ndarray:
    """The rate of `TAX_RATES_BPS` that `tax_cents` turned into `tax`, since the schema keeps no
    rate and a corrected or added line must be taxed at its order's: of the rates that give
    exactly `tax`, the one nearest to tax / (quantity * base); the nearest when none does."""
    line = (quantity * base_cents)[:, None]
    distance = np.abs(line * TAX_RATES_BPS - tax[:, None] * 10_000)
    inexact = tax_cents(line, 1, TAX_RATES_BPS) != tax[:, None]
    # Any rate that gives exactly `tax` ranks before every rate that does not.
    score = distance + inexact * (distance.max(initial=0) + 1)
    return TAX_RATES_BPS[np.argmin(score, axis=1)]


def item_columns(
    items: Items, *, order_ids: np.ndarray, product_ids: np.ndarray, seller_ids: np.ndarray
) -> dict[str, pa.Array | np.ndarray]:
    """Table `orderitem`'s columns between its key and its audit columns."""
    return {
        "order_id": order_ids[items.order],
        "product_id": product_ids[items.product],
        "seller_id": seller_ids[items.seller],
        "quantity": pa.array(items.quantity, pa.int32()),
        "base_price": money(items.base_cents, precision=10),
        "tax": money(items.tax_cents, precision=10),
    }


def ratings(rng: np.random.Generator, count: int) -> pa.Array:
    """Stars 1-5, mostly 4 and 5, as shops see them."""
    return pa.array(rng.choice(np.arange(1, 6), count, p=RATING_WEIGHTS), pa.int16())


def purchase_sessions(
    rng: np.random.Generator, items: Items, *, order_ts: np.ndarray, order_user: np.ndarray
) -> Events:
    """Per order: view and add each item to the cart, check out at `order_ts`, then purchase."""
    lengths = 2 * items.per_order + 2
    session, position = _expand(lengths)
    per_order = items.per_order[session]
    kind = np.where(
        position < 2 * per_order,
        position % 2,  # VIEW, ADD_TO_CART alternate per item
        np.where(position == 2 * per_order, CHECKOUT, PURCHASE),
    )
    item = items.first[session] + np.minimum(position // 2, per_order - 1)
    product = np.where(kind <= ADD_TO_CART, items.product[item], -1)
    gaps = np.where(
        kind == PURCHASE,
        rng.integers(1, 31, session.size),
        rng.integers(5, 301, session.size),
    )
    since_start = _elapsed(gaps, lengths)
    at_checkout = since_start[np.flatnonzero(kind == CHECKOUT)]
    ts = order_ts[session] + since_start - at_checkout[session]
    return {
        "session": session,
        "position": position,
        "type": kind,
        "user": order_user[session],
        "product": product,
        "order": np.where(kind == PURCHASE, session, -1),
        "ts": ts,
        "arrived": ts,
    }


def browse_sessions(
    rng: np.random.Generator,
    *,
    count: int,
    product_weights: np.ndarray,
    user_created: np.ndarray,
    start: int,
    stop: int,
) -> Events:
    """Visits in [start, stop) without an order: a few views, sometimes a cart, rarely an
    abandoned checkout. Each user visits at least an hour after signing up."""
    views = rng.integers(1, 7, count)
    carted = rng.random(count) < 0.3
    checked_out = carted & (rng.random(count) < 0.3)
    lengths = views + carted + checked_out
    session, position = _expand(lengths)
    kind = np.select(
        [position < views[session], position == views[session]],
        [VIEW, ADD_TO_CART],
        CHECKOUT,
    )
    viewed = rng.choice(product_weights.size, session.size, p=product_weights)
    # A cart holds the product viewed just before; a checkout names no product.
    product = np.where(kind == VIEW, viewed, np.roll(viewed, 1))
    product = np.where(kind == CHECKOUT, -1, product)
    user = rng.integers(0, user_created.size, count)
    earliest = np.maximum(start, user_created[user] + HOUR)
    begin = uniform_ts(rng, earliest, stop - 2 * HOUR, count)
    ts = begin[session] + _elapsed(rng.integers(5, 301, session.size), lengths)
    return {
        "session": session,
        "position": position,
        "type": kind,
        "user": user[session],
        "product": product,
        "order": np.full(session.size, -1),
        "ts": ts,
        "arrived": ts,
    }


def merge_sessions(parts: list[Events]) -> Events:
    """Batches of sessions as one stream in the order the shop recorded the events (so event
    ids follow it), sessions renumbered 0, 1, ... by their first event."""
    shifted, offset = [], 0
    for part in parts:
        shifted.append({**part, "session": part["session"] + offset})
        offset += int(part["session"].max()) + 1 if part["session"].size else 0
    events = {name: np.concatenate([part[name] for part in shifted]) for name in parts[0]}
    in_order = np.lexsort((events["position"], events["session"], events["ts"], events["arrived"]))
    events = {name: values[in_order] for name, values in events.items()}
    _, first_seen, session = np.unique(events["session"], return_index=True, return_inverse=True)
    number = np.empty_like(first_seen)
    number[np.argsort(first_seen)] = np.arange(first_seen.size)
    return {**events, "session": number[session]}


def clickstream_columns(
    events: Events,
    *,
    first_session: int,
    user_ids: np.ndarray,
    product_ids: np.ndarray,
    order_ids: np.ndarray,
) -> dict[str, pa.Array | np.ndarray]:
    """Table `clickstream`'s columns between its key and its audit columns."""
    product, order = events["product"], events["order"]
    return {
        "session_id": events["session"] + first_session,
        "user_id": user_ids[events["user"]],
        "event_type": pc.take(pa.array(EVENT_TYPES), pa.array(events["type"])),
        "product_id": pa.array(product_ids[product], mask=product < 0),
        "order_id": pa.array(order_ids[order], mask=order < 0),
        "event_ts": timestamps(events["ts"]),
    }


def _expand(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For consecutive segments of the given lengths: each element's segment and position in it."""
    owner = np.repeat(np.arange(lengths.size), lengths)
    starts = np.cumsum(lengths) - lengths
    return owner, np.arange(owner.size) - starts[owner]


def _elapsed(gaps: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Seconds since each segment's start, where element i comes gaps[i] after its predecessor."""
    total = np.cumsum(gaps)
    starts = np.cumsum(lengths) - lengths
    return total - total[starts][np.repeat(np.arange(lengths.size), lengths)]


def _distinct_pairs(
    left: np.ndarray, right: np.ndarray, right_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Drop repeated (left, right) pairs; the result is sorted by left, then right."""
    codes = np.unique(left.astype(np.int64) * right_size + right)
    return codes // right_size, codes % right_size


def cents(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Exact integer cents of a DECIMAL(_, 2) column (`money` undone), in an array of its own."""
    return pc.cast(pc.multiply(values, 100), pa.int64()).to_numpy().copy()


def timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds * 1_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def money(amounts: np.ndarray, *, precision: int) -> pa.Array:
    """Exact DECIMAL(precision, 2) from integer cents, without a float ever in between."""
    low = amounts.astype(np.int64)
    high = np.where(low < 0, -1, 0).astype(np.int64)  # two's complement sign extension
    words = np.column_stack([low, high]).tobytes()
    return pa.Array.from_buffers(pa.decimal128(precision, 2), low.size, [None, pa.py_buffer(words)])
