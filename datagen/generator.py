"""Fake but consistent shop data for the `rainforest` schema, built in memory with numpy.

The data is a pure function of `(scale, seed, end_date)`, so two runs with the same three values
(and the same Faker version, which supplies names) produce identical tables, timestamps included:
time is measured back from `end_date`, never from the wall clock.

What downstream code may rely on:

- every foreign key resolves; ids are 1..n, in creation order;
- `orders.total_price` is exactly the sum over its items of `quantity * base_price + tax`, with
  `tax` rounded half up to cents first (all money is computed in integer cents);
- every product is in 1-3 categories, except about 2% (at least one) in none, and has a seller;
- clickstream sessions follow the funnel view -> add_to_cart -> checkout -> purchase: one session
  per order ends with `checkout` at the order's `order_ts` and `purchase` (carrying the order id)
  seconds later; other sessions browse and may stop after any step;
- a user exists before it sells, buys, browses or rates; catalogue rows exist before the 90-day
  activity window `[end_date - 90 days, end_date)` that holds every order and event.

Sizes at scale 1: 1,000 users, 500 products, 20 categories, 50 brands, 30 manufacturers,
100 sellers, 800 buyers, 10,000 orders, about 30,000 order items and 100,000 clickstream events.
Everything but the category taxonomy grows linearly with the scale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker

from datagen.errors import DatagenError

# Parents before children: the order `load` copies them in.
TABLES = (
    "appuser",
    "category",
    "brand",
    "manufacturer",
    "product",
    "productcategory",
    "seller",
    "buyer",
    "sellerproduct",
    "ratings",
    "orders",
    "orderitem",
    "clickstream",
)

WINDOW_DAYS = 90
EVENT_TYPES = ("view", "add_to_cart", "checkout", "purchase")
VIEW, ADD_TO_CART, CHECKOUT, PURCHASE = range(4)

CATEGORIES = (
    "Electronics",
    "Computers",
    "Home & Kitchen",
    "Books",
    "Toys & Games",
    "Sports & Outdoors",
    "Beauty",
    "Health",
    "Clothing",
    "Shoes",
    "Jewelry",
    "Garden",
    "Automotive",
    "Pet Supplies",
    "Office Products",
    "Music",
    "Movies",
    "Grocery",
    "Baby",
    "Tools",
)
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

DAY = 86_400
HOUR = 3_600
# Share of the user base that sells / buys, items per order, and browse-only sessions per order.
SELLER_SHARE = 0.1
BUYER_SHARE = 0.8
BROWSE_SESSIONS_PER_ORDER = 0.5
RATED_ITEM_SHARE = 0.05
TAX_RATES_BPS = np.array([0, 500, 725, 800, 1000])
RATING_WEIGHTS = np.array([0.05, 0.07, 0.15, 0.33, 0.40])


@dataclass(frozen=True, kw_only=True)
class _Sizes:
    users: int
    products: int
    brands: int
    manufacturers: int
    sellers: int
    orders: int

    @classmethod
    def at(cls, scale: float) -> _Sizes:
        def size(at_scale_1: int, minimum: int) -> int:
            return max(minimum, round(at_scale_1 * scale))

        users = size(1_000, 20)
        return cls(
            users=users,
            products=size(500, 5),
            brands=size(50, 2),
            manufacturers=size(30, 2),
            sellers=max(2, round(users * SELLER_SHARE)),
            orders=size(10_000, 1),
        )


class _Generator:
    """One generation run: the random sources and the arrays later tables refer to."""

    def __init__(self, *, scale: float, seed: int, end: int) -> None:
        self.sizes = _Sizes.at(scale)
        self.rng = np.random.default_rng(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.end = end
        self.window_start = end - WINDOW_DAYS * DAY
        self.tables: dict[str, pa.Table] = {}

    def run(self) -> dict[str, pa.Table]:
        self._catalogue()
        self._users()
        self._products()
        self._sellers_and_buyers()
        self._orders()
        self._ratings()
        self._clickstream()
        return {name: self.tables[name] for name in TABLES}

    def _uniform_ts(self, low: np.ndarray | int, high: np.ndarray | int, size: int) -> np.ndarray:
        """Whole seconds drawn uniformly from [low, high)."""
        low = np.asarray(low, dtype=np.int64)
        high = np.asarray(high, dtype=np.int64)
        return low + (self.rng.random(size) * (high - low)).astype(np.int64)

    def _updated_later(self, created: np.ndarray, share: float = 0.3) -> np.ndarray:
        """Audit column: a share of rows was edited at some point after creation."""
        edited = self.rng.random(created.size) < share
        return np.where(edited, self._uniform_ts(created, self.end, created.size), created)

    def _table(
        self,
        key: str,
        columns: dict[str, pa.Array | np.ndarray | list[str]],
        created: np.ndarray,
        *,
        edited_share: float = 0.3,
    ) -> pa.Table:
        """A table with its surrogate key 1..n first and the audit columns last."""
        return pa.table(
            {
                key: pa.array(np.arange(1, created.size + 1)),
                **{name: pa.array(values) for name, values in columns.items()},
                "created_ts": _timestamps(created),
                "last_updated_ts": _timestamps(self._updated_later(created, edited_share)),
            }
        )

    def _catalogue(self) -> None:
        start, stop = self.end - 3 * 365 * DAY, self.end - 2 * 365 * DAY
        countries = np.array([self.fake.country_code() for _ in range(25)])
        self.tables["category"] = self._table(
            "category_id",
            {"name": list(CATEGORIES)},
            self._sorted_created(len(CATEGORIES), start, stop),
        )
        for table, count in (
            ("brand", self.sizes.brands),
            ("manufacturer", self.sizes.manufacturers),
        ):
            names = [self.fake.unique.company() for _ in range(count)]
            self.tables[table] = self._table(
                f"{table}_id",
                {"name": names, "country": self.rng.choice(countries, count)},
                self._sorted_created(count, start, stop),
            )

    def _sorted_created(self, count: int, start: int, stop: int) -> np.ndarray:
        """Creation times in id order, as an application assigns ids."""
        return np.sort(self._uniform_ts(start, stop, count))

    def _users(self) -> None:
        count = self.sizes.users
        firsts = np.array([self.fake.first_name() for _ in range(200)])
        lasts = np.array([self.fake.last_name() for _ in range(500)])
        domains = np.array([self.fake.free_email_domain() for _ in range(8)])
        countries = np.array([self.fake.country_code() for _ in range(40)])
        first = self.rng.choice(firsts, count)
        last = self.rng.choice(lasts, count)
        usernames = [
            re.sub(r"[^a-z]", "", f"{f[0]}{l_}".lower()) + str(user_id)
            for user_id, (f, l_) in enumerate(zip(first, last, strict=True), start=1)
        ]
        emails = [
            f"{name}@{domain}"
            for name, domain in zip(usernames, self.rng.choice(domains, count), strict=True)
        ]
        self.user_created = self._sorted_created(count, self.end - 730 * DAY, self.end - 2 * DAY)
        self.tables["appuser"] = self._table(
            "user_id",
            {
                "username": usernames,
                "email": emails,
                "first_name": first,
                "last_name": last,
                "country": self.rng.choice(countries, count),
            },
            self.user_created,
        )

    def _products(self) -> None:
        count = self.sizes.products
        brand = self.rng.integers(0, self.sizes.brands, count)
        brand_names = self.tables["brand"].column("name").to_numpy(zero_copy_only=False)
        names = [
            f"{brand_names[b]} {a} {n}"
            for b, a, n in zip(
                brand,
                self.rng.choice(ADJECTIVES, count),
                self.rng.choice(NOUNS, count),
                strict=True,
            )
        ]
        sentences = np.array([self.fake.sentence(nb_words=10) for _ in range(100)])
        self.price_cents = np.clip(
            np.round(self.rng.lognormal(np.log(2_500), 1.0, count)), 99, 500_000
        ).astype(np.int64)
        # Orders and page views favour a few products, as shops do.
        popularity = self.rng.lognormal(0.0, 1.0, count)
        self.product_weights = popularity / popularity.sum()
        self.product_created = self._sorted_created(
            count, self.end - 700 * DAY, self.end - 100 * DAY
        )
        self.tables["product"] = self._table(
            "product_id",
            {
                "name": names,
                "description": self.rng.choice(sentences, count),
                "price": _money(self.price_cents, precision=10),
                "brand_id": brand + 1,
                "manufacturer_id": self.rng.integers(1, self.sizes.manufacturers + 1, count),
            },
            self.product_created,
        )
        self._product_categories()

    def _product_categories(self) -> None:
        count = self.sizes.products
        per_product = self.rng.choice([1, 2, 3], count, p=[0.5, 0.3, 0.2])
        uncategorised = self.rng.choice(count, max(1, round(0.02 * count)), replace=False)
        per_product[uncategorised] = 0
        product, _ = _expand(per_product)
        category = self.rng.integers(0, len(CATEGORIES), product.size)
        product, category = _distinct_pairs(product, category, len(CATEGORIES))
        created = self.product_created[product] + self._uniform_ts(0, DAY, product.size)
        self.tables["productcategory"] = self._table(
            "productcategory_id",
            {"product_id": product + 1, "category_id": category + 1},
            created,
        )

    def _sellers_and_buyers(self) -> None:
        # Sellers are established accounts, so their whole catalogue predates the window.
        veterans = np.flatnonzero(self.user_created < self.end - 120 * DAY)
        seller_count = min(self.sizes.sellers, veterans.size)
        seller_user = self.rng.choice(veterans, seller_count, replace=False)
        seller_created = self.user_created[seller_user] + self._uniform_ts(
            0, 10 * DAY, seller_count
        )
        order = np.argsort(seller_created, kind="stable")
        seller_user, seller_created = seller_user[order], seller_created[order]
        store_names = [f"{self.fake.last_name()} {self.fake.company_suffix()}" for _ in order]
        self.tables["seller"] = self._table(
            "seller_id",
            {"user_id": seller_user + 1, "store_name": store_names},
            seller_created,
        )

        buyer_count = max(1, round(self.sizes.users * BUYER_SHARE))
        buyer_user = self.rng.choice(self.sizes.users, buyer_count, replace=False)
        buyer_created = self.user_created[buyer_user] + self._uniform_ts(0, DAY, buyer_count)
        order = np.argsort(buyer_created, kind="stable")
        self.buyer_user, self.buyer_created = buyer_user[order], buyer_created[order]
        self.tables["buyer"] = self._table(
            "buyer_id", {"user_id": self.buyer_user + 1}, self.buyer_created
        )

        per_product = self.rng.integers(1, 5, self.sizes.products)
        product, _ = _expand(per_product)
        seller = self.rng.integers(0, seller_count, product.size)
        product, seller = _distinct_pairs(product, seller, seller_count)
        # Sorted by product: each product's sellers are one contiguous run.
        self.offer_seller = seller
        self.offers_per_product = np.bincount(product, minlength=self.sizes.products)
        self.first_offer = np.cumsum(self.offers_per_product) - self.offers_per_product
        created = np.maximum(seller_created[seller], self.product_created[product])
        self.tables["sellerproduct"] = self._table(
            "sellerproduct_id",
            {"seller_id": seller + 1, "product_id": product + 1},
            created + self._uniform_ts(0, 5 * DAY, product.size),
        )

    def _orders(self) -> None:
        count = self.sizes.orders
        loyalty = self.rng.lognormal(0.0, 0.8, self.buyer_user.size)
        buyer = self.rng.choice(self.buyer_user.size, count, p=loyalty / loyalty.sum())
        earliest = np.maximum(self.window_start + HOUR, self.buyer_created[buyer] + 2 * HOUR)
        order_ts = self._uniform_ts(earliest, self.end - HOUR, count)
        chronological = np.argsort(order_ts, kind="stable")
        self.order_buyer, self.order_ts = buyer[chronological], order_ts[chronological]

        items_per_order = 1 + self.rng.binomial(4, 0.5, count)
        item_order, _ = _expand(items_per_order)
        item_count = item_order.size
        product = self.rng.choice(self.sizes.products, item_count, p=self.product_weights)
        offer = self.first_offer[product] + (
            self.rng.random(item_count) * self.offers_per_product[product]
        ).astype(np.int64)
        quantity = np.minimum(self.rng.geometric(0.6, item_count), 10).astype(np.int64)
        base_cents = self.price_cents[product]
        tax_bps = self.rng.choice(TAX_RATES_BPS, count)[item_order]
        tax_cents = (quantity * base_cents * tax_bps + 5_000) // 10_000  # half up, to the cent
        line_cents = quantity * base_cents + tax_cents
        first_item = np.cumsum(items_per_order) - items_per_order
        total_cents = np.add.reduceat(line_cents, first_item)

        self.items_per_order, self.first_item = items_per_order, first_item
        self.item_order, self.item_product = item_order, product
        self.tables["orders"] = self._table(
            "order_id",
            {
                "buyer_id": self.order_buyer + 1,
                "order_ts": _timestamps(self.order_ts),
                "total_price": _money(total_cents, precision=12),
            },
            self.order_ts,
            edited_share=0.0,
        )
        self.tables["orderitem"] = self._table(
            "orderitem_id",
            {
                "order_id": item_order + 1,
                "product_id": product + 1,
                "seller_id": self.offer_seller[offer] + 1,
                "quantity": pa.array(quantity, pa.int32()),
                "base_price": _money(base_cents, precision=10),
                "tax": _money(tax_cents, precision=10),
            },
            self.order_ts[item_order],
            edited_share=0.0,
        )

    def _ratings(self) -> None:
        rated = np.flatnonzero(self.rng.random(self.item_order.size) < RATED_ITEM_SHARE)
        created = self.order_ts[self.item_order[rated]] + self._uniform_ts(
            DAY, 20 * DAY, rated.size
        )
        kept = created < self.end
        rated, created = rated[kept], created[kept]
        chronological = np.argsort(created, kind="stable")
        rated, created = rated[chronological], created[chronological]
        user = self.buyer_user[self.order_buyer[self.item_order[rated]]]
        self.tables["ratings"] = self._table(
            "rating_id",
            {
                "product_id": self.item_product[rated] + 1,
                "user_id": user + 1,
                "rating": pa.array(
                    self.rng.choice(np.arange(1, 6), rated.size, p=RATING_WEIGHTS), pa.int16()
                ),
            },
            created,
        )

    def _clickstream(self) -> None:
        purchase = self._purchase_sessions()
        browse = self._browse_sessions()
        browse["session"] = browse["session"] + self.sizes.orders
        events = {name: np.concatenate([purchase[name], browse[name]]) for name in purchase}
        in_time_order = np.lexsort((events["position"], events["session"], events["ts"]))
        events = {name: values[in_time_order] for name, values in events.items()}
        # Session ids follow each session's first event, as event ids follow time.
        _, first_seen = np.unique(events["session"], return_index=True)
        session_id = np.empty_like(first_seen)
        session_id[np.argsort(first_seen)] = np.arange(1, first_seen.size + 1)
        self.tables["clickstream"] = self._table(
            "clickstream_id",
            {
                "session_id": session_id[events["session"]],
                "user_id": events["user"] + 1,
                "event_type": pc.take(pa.array(EVENT_TYPES), pa.array(events["type"])),
                "product_id": pa.array(events["product"] + 1, mask=events["product"] < 0),
                "order_id": pa.array(events["order"] + 1, mask=events["order"] < 0),
                "event_ts": _timestamps(events["ts"]),
            },
            events["ts"],
            edited_share=0.0,
        )

    def _purchase_sessions(self) -> dict[str, np.ndarray]:
        """Per order: view and add each item to the cart, check out at `order_ts`, then purchase."""
        lengths = 2 * self.items_per_order + 2
        session, position = _expand(lengths)
        items = self.items_per_order[session]
        kind = np.where(
            position < 2 * items,
            position % 2,  # VIEW, ADD_TO_CART alternate per item
            np.where(position == 2 * items, CHECKOUT, PURCHASE),
        )
        item = self.first_item[session] + np.minimum(position // 2, items - 1)
        product = np.where(kind <= ADD_TO_CART, self.item_product[item], -1)
        gaps = np.where(
            kind == PURCHASE,
            self.rng.integers(1, 31, session.size),
            self.rng.integers(5, 301, session.size),
        )
        elapsed = _elapsed(gaps, lengths)
        at_checkout = elapsed[np.flatnonzero(kind == CHECKOUT)]
        ts = self.order_ts[session] + elapsed - at_checkout[session]
        return {
            "session": session,
            "position": position,
            "type": kind,
            "user": self.buyer_user[self.order_buyer[session]],
            "product": product,
            "order": np.where(kind == PURCHASE, session, -1),
            "ts": ts,
        }

    def _browse_sessions(self) -> dict[str, np.ndarray]:
        """Visits without an order: a few views, sometimes a cart, rarely an abandoned checkout."""
        count = round(self.sizes.orders * BROWSE_SESSIONS_PER_ORDER)
        views = self.rng.integers(1, 7, count)
        carted = self.rng.random(count) < 0.3
        checked_out = carted & (self.rng.random(count) < 0.3)
        lengths = views + carted + checked_out
        session, position = _expand(lengths)
        kind = np.select(
            [position < views[session], position == views[session]],
            [VIEW, ADD_TO_CART],
            CHECKOUT,
        )
        viewed = self.rng.choice(self.sizes.products, session.size, p=self.product_weights)
        # A cart holds the product viewed just before; a checkout names no product.
        product = np.where(kind == VIEW, viewed, np.roll(viewed, 1))
        product = np.where(kind == CHECKOUT, -1, product)
        user = self.rng.integers(0, self.sizes.users, count)
        earliest = np.maximum(self.window_start, self.user_created[user] + HOUR)
        start = self._uniform_ts(earliest, self.end - 2 * HOUR, count)
        ts = start[session] + _elapsed(self.rng.integers(5, 301, session.size), lengths)
        return {
            "session": session,
            "position": position,
            "type": kind,
            "user": user[session],
            "product": product,
            "order": np.full(session.size, -1),
            "ts": ts,
        }


def generate(
    *, scale: float = 1.0, seed: int = 42, end_date: date | None = None
) -> dict[str, pa.Table]:
    """Build every table of the `rainforest` schema, keyed by table name in load order.

    `end_date` closes the 90-day activity window at its midnight UTC; by default today's. Pass
    the same seed and end date to get the same data tomorrow.

    Example::

        tables = generate(scale=0.05, seed=7, end_date=date(2025, 1, 31))
        tables["orders"].num_rows  # 500
    """
    if not scale > 0:
        raise DatagenError(f"The scale must be a positive number, not {scale}.")
    end = datetime.combine(end_date or default_end_date(), time(), tzinfo=UTC)
    return _Generator(scale=scale, seed=seed, end=int(end.timestamp())).run()


def default_end_date() -> date:
    """Today in UTC: the window ends at the last midnight, so a day's runs agree."""
    return datetime.now(UTC).date()


def row_counts(tables: dict[str, pa.Table]) -> dict[str, int]:
    return {name: table.num_rows for name, table in tables.items()}


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


def _timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds * 1_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _money(cents: np.ndarray, *, precision: int) -> pa.Array:
    """Exact DECIMAL(precision, 2) from integer cents, without a float ever in between."""
    low = cents.astype(np.int64)
    high = np.where(low < 0, -1, 0).astype(np.int64)  # two's complement sign extension
    words = np.column_stack([low, high]).tobytes()
    return pa.Array.from_buffers(pa.decimal128(precision, 2), low.size, [None, pa.py_buffer(words)])
