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

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np
import pyarrow as pa
from faker import Faker

from datagen import draws
from datagen.draws import DAY, HOUR, Catalogue
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
# Share of the user base that sells / buys, browse-only sessions per order, and items rated.
SELLER_SHARE = 0.1
BUYER_SHARE = 0.8
BROWSE_SESSIONS_PER_ORDER = 0.5
RATED_ITEM_SHARE = 0.05


@dataclass(frozen=True, kw_only=True)
class Sizes:
    users: int
    products: int
    brands: int
    manufacturers: int
    sellers: int
    orders: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
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
        self.sizes = Sizes.at(scale)
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
        return draws.uniform_ts(self.rng, low, high, size)

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
        updated = self._updated_later(created, edited_share)
        return draws.keyed_table(key, 1, columns, created=created, updated=updated)

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
            draws.username(f, l_, user_id)
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
        names = draws.product_names(self.rng, brand_names[brand])
        sentences = np.array([self.fake.sentence(nb_words=10) for _ in range(100)])
        self.price_cents = draws.price_cents(self.rng, count)
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
                "price": draws.money(self.price_cents, precision=10),
                "brand_id": brand + 1,
                "manufacturer_id": self.rng.integers(1, self.sizes.manufacturers + 1, count),
            },
            self.product_created,
        )
        self._product_categories()

    def _product_categories(self) -> None:
        count = self.sizes.products
        per_product = draws.category_counts(self.rng, count)
        uncategorised = self.rng.choice(count, max(1, round(0.02 * count)), replace=False)
        per_product[uncategorised] = 0
        product, category = draws.links(self.rng, per_product, len(CATEGORIES))
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

        per_product = draws.offer_counts(self.rng, self.sizes.products)
        # Sorted by product: each product's sellers are one contiguous run.
        product, seller = draws.links(self.rng, per_product, seller_count)
        self.catalogue = Catalogue.of(
            weights=self.product_weights,
            price_cents=self.price_cents,
            offer_product=product,
            offer_seller=seller,
        )
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
        per_order = draws.items_per_order(self.rng, count)
        self.items = items = draws.order_items(self.rng, self.catalogue, per_order)
        self.tables["orders"] = self._table(
            "order_id",
            {
                "buyer_id": self.order_buyer + 1,
                "order_ts": draws.timestamps(self.order_ts),
                "total_price": draws.money(items.total_cents, precision=12),
            },
            self.order_ts,
            edited_share=0.0,
        )
        self.tables["orderitem"] = self._table(
            "orderitem_id",
            draws.item_columns(
                items,
                order_ids=np.arange(1, count + 1),
                product_ids=np.arange(1, self.sizes.products + 1),
                seller_ids=np.arange(1, self.tables["seller"].num_rows + 1),
            ),
            self.order_ts[items.order],
            edited_share=0.0,
        )

    def _ratings(self) -> None:
        items = self.items
        rated = np.flatnonzero(self.rng.random(items.order.size) < RATED_ITEM_SHARE)
        created = self.order_ts[items.order[rated]] + self._uniform_ts(DAY, 20 * DAY, rated.size)
        kept = created < self.end
        rated, created = rated[kept], created[kept]
        chronological = np.argsort(created, kind="stable")
        rated, created = rated[chronological], created[chronological]
        user = self.buyer_user[self.order_buyer[items.order[rated]]]
        self.tables["ratings"] = self._table(
            "rating_id",
            {
                "product_id": items.product[rated] + 1,
                "user_id": user + 1,
                "rating": draws.ratings(self.rng, rated.size),
            },
            created,
        )

    def _clickstream(self) -> None:
        purchase = draws.purchase_sessions(
            self.rng,
            self.items,
            order_ts=self.order_ts,
            order_user=self.buyer_user[self.order_buyer],
        )
        browse = draws.browse_sessions(
            self.rng,
            count=round(self.sizes.orders * BROWSE_SESSIONS_PER_ORDER),
            product_weights=self.product_weights,
            user_created=self.user_created,
            start=self.window_start,
            stop=self.end,
        )
        events = draws.merge_sessions([purchase, browse])
        self.tables["clickstream"] = self._table(
            "clickstream_id",
            draws.clickstream_columns(
                events,
                first_session=1,
                user_ids=np.arange(1, self.sizes.users + 1),
                product_ids=np.arange(1, self.sizes.products + 1),
                order_ids=np.arange(1, self.sizes.orders + 1),
            ),
            events["ts"],
            edited_share=0.0,
        )


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
