"""One simulated day of the shop: the rows it inserts, updates and deletes, computed in memory
from the rows the database holds when the day starts (a `Shop`), without any I/O.

A day `d` covers [S, E) = [midnight UTC of d, the next midnight). Every row it inserts or
updates gets a `last_updated_ts` in [S, E): the moment the shop wrote it. Rows on time were
created at that moment; late rows (order items, clickstream sessions and ratings the shop
learnt of late) were created 1-3 days before S. Deterministic for (seed, day, shop).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np
import pyarrow as pa
from faker import Faker

from datagen import draws
from datagen.dirty import Defects, inject_defects
from datagen.draws import DAY, HOUR, Catalogue, Events, uniform_ts
from datagen.generator import (
    BROWSE_SESSIONS_PER_ORDER,
    BUYER_SHARE,
    RATED_ITEM_SHARE,
    WINDOW_DAYS,
    Sizes,
)

# The key of each table a day inserts rows into, updates or deletes from.
KEYS = {
    "appuser": "user_id",
    "product": "product_id",
    "productcategory": "productcategory_id",
    "buyer": "buyer_id",
    "sellerproduct": "sellerproduct_id",
    "ratings": "rating_id",
    "orders": "order_id",
    "orderitem": "orderitem_id",
    "clickstream": "clickstream_id",
}
# Items of orders placed this many days before a day are the ones it rates, corrects or adds to.
RECENT_DAYS = 21
# Late rows were created up to this many days, and at least one day, before the day.
LATE_DAYS = 3


@dataclass(frozen=True, kw_only=True)
class DayVolumes:
    """How many rows of each kind a day writes at a scale: a day's share of `generate`'s
    window for orders, their sessions and ratings; a few, at least one, of everything else."""

    orders: int
    browse_sessions: int
    ratings: int
    users: int
    products: int
    edits: int
    """Per kind of update: price changes, user changes, edited ratings, corrected orders."""
    late: int
    """Per kind of late row: order items, clickstream sessions, ratings."""
    removals: int
    """Per kind of delete (ratings, seller offers), and category changes."""

    @classmethod
    def at(cls, scale: float) -> DayVolumes:
        def few(at_scale_1: float) -> int:
            return max(1, round(at_scale_1 * scale))

        orders = max(1, round(Sizes.at(scale).orders / WINDOW_DAYS))
        return cls(
            orders=orders,
            browse_sessions=round(orders * BROWSE_SESSIONS_PER_ORDER),
            ratings=max(1, round(orders * draws.MEAN_ITEMS_PER_ORDER * RATED_ITEM_SHARE)),
            users=few(5),
            products=few(2),
            edits=few(5),
            late=few(3),
            removals=few(2),
        )


@dataclass(frozen=True, kw_only=True)
class Shop:
    """The rows a day draws on, as the database holds them when the day starts.

    The arrays of one table are parallel and sorted by its key. `item_*` holds only the items of
    orders placed in the `RECENT_DAYS` before the day, with the order's time and buyer's user.
    Timestamps are seconds since the epoch, money integer cents.
    """

    next_key: dict[str, int]
    next_session: int
    user_id: np.ndarray
    user_first: np.ndarray
    user_last: np.ndarray
    user_created: np.ndarray
    brand_name: np.ndarray
    brand_id: np.ndarray
    manufacturer_id: np.ndarray
    category_id: np.ndarray
    product_id: np.ndarray
    product_price_cents: np.ndarray
    product_sales: np.ndarray
    productcategory_id: np.ndarray
    productcategory_product: np.ndarray
    productcategory_category: np.ndarray
    seller_id: np.ndarray
    sellerproduct_id: np.ndarray
    sellerproduct_seller: np.ndarray
    sellerproduct_product: np.ndarray
    buyer_id: np.ndarray
    buyer_user: np.ndarray
    buyer_created: np.ndarray
    buyer_orders: np.ndarray
    rating_id: np.ndarray
    rating_value: np.ndarray
    item_id: np.ndarray
    item_order: np.ndarray
    item_product: np.ndarray
    item_quantity: np.ndarray
    item_base_cents: np.ndarray
    item_tax_cents: np.ndarray
    item_order_ts: np.ndarray
    item_user: np.ndarray


@dataclass(frozen=True, kw_only=True)
class Changes:
    """A day's writes. Inserted tables are whole rows in load order, keys from the table's next
    key on; updated tables hold the key, the changed columns and `last_updated_ts`."""

    inserts: dict[str, pa.Table]
    updates: dict[str, pa.Table]
    deletes: dict[str, np.ndarray]
    defects: Defects | None


def simulate_day(
    shop: Shop, *, day: date, scale: float, seed: int, dirty: float | None = None
) -> Changes:
    """The changes of `day` to `shop`; with `dirty`, about that share of the new rows of each
    defect's table made defective, as `inject_defects` does to a load."""
    return _Day(shop, day=day, scale=scale, seed=seed).run(dirty)


def day_seed(seed: int, day: date) -> int:
    """A seed of the day's own for Faker and the defects, independent of the day's numpy draws."""
    return int(np.random.SeedSequence([seed, day.toordinal()]).generate_state(1)[0])


def day_start(day: date) -> int:
    return int(datetime.combine(day, time(), tzinfo=UTC).timestamp())


class _Day:
    """One day's simulation: its random sources, its clock and the changes made so far."""

    def __init__(self, shop: Shop, *, day: date, scale: float, seed: int) -> None:
        self.shop = shop
        self.volumes = DayVolumes.at(scale)
        self.rng = np.random.default_rng([seed, day.toordinal()])
        self.seed = day_seed(seed, day)
        self.fake = Faker("en_US")
        self.fake.seed_instance(self.seed)
        self.start = day_start(day)
        self.end = self.start + DAY
        self.inserts: dict[str, pa.Table] = {}
        self.updates: dict[str, pa.Table] = {}
        self.deletes: dict[str, np.ndarray] = {}

    def run(self, dirty: float | None) -> Changes:
        edited_ratings = self._removals()
        self._users()
        self._products()
        catalogue = self._catalogue()
        purchases = self._orders(catalogue)
        self._clickstream(catalogue, purchases)
        self._ratings()
        defects = None
        if dirty is not None:
            self.inserts, defects = inject_defects(self.inserts, rate=dirty, seed=self.seed)
        self._prices()
        self._user_details()
        self._edited_ratings(edited_ratings)
        self._recategorised()
        self._settled_orders()
        return Changes(
            inserts=self.inserts, updates=self.updates, deletes=self.deletes, defects=defects
        )

    def _times(self, size: int) -> np.ndarray:
        """Moments within the day."""
        return uniform_ts(self.rng, self.start, self.end, size)

    def _arrived(self, created: np.ndarray) -> np.ndarray:
        """When the shop wrote rows created at `created`: at once, or today for late ones."""
        return np.where(created >= self.start, created, self._times(created.size))

    def _choose(self, candidates: np.ndarray | int, count: int) -> np.ndarray:
        """Up to `count` distinct ones of `candidates` (or of range(candidates)), sorted."""
        size = candidates if isinstance(candidates, int) else candidates.size
        return np.sort(self.rng.choice(candidates, min(count, size), replace=False))

    def _insert(
        self, name: str, rows: pa.Table, *, created: np.ndarray, updated: np.ndarray
    ) -> np.ndarray:
        """Add `rows` as the shop inserts them, keyed in the order it wrote them (as an
        application's sequence hands out keys); the keys of `rows`, in their given order."""
        order = np.argsort(updated, kind="stable")
        rows = rows.take(pa.array(order))
        first_key = self.shop.next_key[name]
        self.inserts[name] = draws.keyed_table(
            KEYS[name],
            first_key,
            {column: rows.column(column) for column in rows.column_names},
            created=created[order],
            updated=updated[order],
        )
        keys = np.empty(order.size, dtype=np.int64)
        keys[order] = first_key + np.arange(order.size)
        return keys

    def _update(
        self,
        name: str,
        keys: np.ndarray,
        columns: dict[str, pa.Array | list[str]],
        when: np.ndarray,
    ) -> None:
        if keys.size:
            self.updates[name] = pa.table(
                {
                    KEYS[name]: pa.array(keys, pa.int64()),
                    **columns,
                    "last_updated_ts": draws.timestamps(when),
                }
            )

    def _removals(self) -> np.ndarray:
        """Delete a few ratings and seller offers; returns the ratings to edit, out of the rest."""
        shop, volumes = self.shop, self.volumes
        ratings = self.rng.permutation(shop.rating_id.size)
        removed = ratings[volumes.edits : volumes.edits + volumes.removals]
        self.deletes["ratings"] = np.sort(shop.rating_id[removed])
        # A product keeps at least one seller: only products with several lose one.
        offers = np.bincount(
            np.searchsorted(shop.product_id, shop.sellerproduct_product),
            minlength=shop.product_id.size,
        )
        withdrawn = [
            self.rng.choice(np.flatnonzero(shop.sellerproduct_product == product))
            for product in self._choose(shop.product_id[offers >= 2], volumes.removals)
        ]
        self.deletes["sellerproduct"] = np.sort(
            shop.sellerproduct_id[np.array(withdrawn, dtype=np.int64)]
        )
        return np.sort(ratings[: volumes.edits])

    def _users(self) -> None:
        """New sign-ups in the day's first half, most of whom become buyers within the hour."""
        count = self.volumes.users
        created = np.sort(uniform_ts(self.rng, self.start, self.start + 12 * HOUR, count))
        user_id = self.shop.next_key["appuser"] + np.arange(count)
        first = [self.fake.first_name() for _ in range(count)]
        last = [self.fake.last_name() for _ in range(count)]
        names = [draws.username(f, l_, i) for f, l_, i in zip(first, last, user_id, strict=True)]
        rows = {
            "username": names,
            "email": [f"{name}@{self.fake.free_email_domain()}" for name in names],
            "first_name": first,
            "last_name": last,
            "country": [self.fake.country_code() for _ in range(count)],
        }
        self._insert("appuser", pa.table(rows), created=created, updated=created)
        self.user_ids = np.concatenate([self.shop.user_id, user_id])
        buying = np.flatnonzero(self.rng.random(count) < BUYER_SHARE)
        self.new_buyer_user = user_id[buying]
        self.new_buyer_created = created[buying] + uniform_ts(self.rng, 0, HOUR, buying.size)
        self.new_buyer_id = self._insert(
            "buyer",
            pa.table({"user_id": pa.array(self.new_buyer_user, pa.int64())}),
            created=self.new_buyer_created,
            updated=self.new_buyer_created,
        )

    def _products(self) -> None:
        """New products, each in 1-3 categories and offered by 1-4 sellers the same day."""
        shop, count = self.shop, self.volumes.products
        created = np.sort(uniform_ts(self.rng, self.start, self.end - HOUR, count))
        brand = self.rng.integers(0, shop.brand_id.size, count)
        rows = {
            "name": draws.product_names(self.rng, shop.brand_name[brand]),
            "description": [self.fake.sentence(nb_words=10) for _ in range(count)],
            "price": draws.money(draws.price_cents(self.rng, count), precision=10),
            "brand_id": shop.brand_id[brand],
            "manufacturer_id": self.rng.choice(shop.manufacturer_id, count),
        }
        product_id = self._insert("product", pa.table(rows), created=created, updated=created)
        for name, partner_key, partners, per_product in (
            ("productcategory", "category_id", shop.category_id, draws.category_counts),
            ("sellerproduct", "seller_id", shop.seller_id, draws.offer_counts),
        ):
            product, partner = draws.links(self.rng, per_product(self.rng, count), partners.size)
            linked = uniform_ts(self.rng, created[product], self.end, product.size)
            rows = {"product_id": product_id[product], partner_key: partners[partner]}
            self._insert(name, pa.table(rows), created=linked, updated=linked)

    def _catalogue(self) -> Catalogue:
        """What today's orders buy: the products on offer before today, weighted by past sales."""
        shop = self.shop
        kept = ~np.isin(shop.sellerproduct_id, self.deletes["sellerproduct"])
        product = np.searchsorted(shop.product_id, shop.sellerproduct_product[kept])
        seller = np.searchsorted(shop.seller_id, shop.sellerproduct_seller[kept])
        by_product = np.lexsort((seller, product))
        offered = np.bincount(product, minlength=shop.product_id.size) > 0
        weights = np.where(offered, shop.product_sales + 1.0, 0.0)
        return Catalogue.of(
            weights=weights / weights.sum(),
            price_cents=shop.product_price_cents,
            offer_product=product[by_product],
            offer_seller=seller[by_product],
        )

    def _orders(self, catalogue: Catalogue) -> Events:
        """The day's orders, by buyers weighted by their past orders, with their items and the
        day's late items; returns the sessions that placed the orders."""
        shop, count = self.shop, self.volumes.orders
        buyer_id = np.concatenate([shop.buyer_id, self.new_buyer_id])
        buyer_user = np.concatenate([shop.buyer_user, self.new_buyer_user])
        buyer_created = np.concatenate([shop.buyer_created, self.new_buyer_created])
        loyalty = np.concatenate([shop.buyer_orders + 1.0, np.ones(self.new_buyer_id.size)])
        buyer = self.rng.choice(buyer_id.size, count, p=loyalty / loyalty.sum())
        earliest = np.maximum(self.start + HOUR, buyer_created[buyer] + 2 * HOUR)
        order_ts = uniform_ts(self.rng, earliest, self.end - HOUR, count)
        chronological = np.argsort(order_ts, kind="stable")
        buyer, order_ts = buyer[chronological], order_ts[chronological]
        items = draws.order_items(self.rng, catalogue, draws.items_per_order(self.rng, count))
        rows = {
            "buyer_id": buyer_id[buyer],
            "order_ts": draws.timestamps(order_ts),
            "total_price": draws.money(items.total_cents, precision=12),
        }
        self.order_ids = self._insert("orders", pa.table(rows), created=order_ts, updated=order_ts)
        late_rows, late_created = self._late_items(catalogue)
        on_time = order_ts[items.order]
        self._insert(
            "orderitem",
            pa.concat_tables([self._item_rows(items, self.order_ids), late_rows]),
            created=np.concatenate([on_time, late_created]),
            updated=np.concatenate([on_time, self.late_arrived]),
        )
        return draws.purchase_sessions(
            self.rng,
            items,
            order_ts=order_ts,
            order_user=np.searchsorted(self.user_ids, buyer_user[buyer]),
        )

    def _item_rows(self, items: draws.Items, order_ids: np.ndarray) -> pa.Table:
        columns = draws.item_columns(
            items,
            order_ids=order_ids,
            product_ids=self.shop.product_id,
            seller_ids=self.shop.seller_id,
        )
        return pa.table(columns)

    def _late_items(self, catalogue: Catalogue) -> tuple[pa.Table, np.ndarray]:
        """An item each added today to a few orders of 1-3 days ago, at the order's tax rate;
        the rows and their creation times, their order's."""
        orders = self._choose(self._placed((LATE_DAYS, 1)), self.volumes.late)
        placed, rate = self._order_facts(orders)
        items = draws.order_items(
            self.rng, catalogue, np.ones(orders.size, dtype=np.int64), rate_bps=rate
        )
        self.late_orders, self.late_arrived = orders, self._times(orders.size)
        return self._item_rows(items, orders), placed

    def _recent_items(self, days_ago: tuple[int, int]) -> np.ndarray:
        """Positions of the recent items of orders placed between `days_ago[0]` and
        `days_ago[1]` days before the day."""
        since, until = (self.start - days * DAY for days in days_ago)
        placed = self.shop.item_order_ts
        return np.flatnonzero((placed >= since) & (placed < until))

    def _placed(self, days_ago: tuple[int, int]) -> np.ndarray:
        """The orders of `_recent_items`."""
        return np.unique(self.shop.item_order[self._recent_items(days_ago)])

    def _order_facts(self, orders: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each recent order's time and tax rate (recovered from its largest, least rounded,
        line)."""
        shop = self.shop
        line = np.abs(shop.item_quantity * shop.item_base_cents)
        rates = draws.tax_rate_bps(shop.item_quantity, shop.item_base_cents, shop.item_tax_cents)
        largest = np.array(
            [
                mine[np.argmax(line[mine])]
                for mine in (np.flatnonzero(shop.item_order == o) for o in orders)
            ],
            dtype=np.int64,
        )
        return shop.item_order_ts[largest], rates[largest]

    def _clickstream(self, catalogue: Catalogue, purchases: Events) -> None:
        """The sessions that placed today's orders, today's visits without one, and a few
        visits of 1-3 days ago that reach the shop today (a phone back online)."""
        shop = self.shop
        everyone = np.arange(shop.user_id.size)
        browsing = self._visits(
            catalogue, everyone, self.volumes.browse_sessions, during=(self.start, self.end)
        )
        late_start = self.start - LATE_DAYS * DAY
        veterans = np.flatnonzero(shop.user_created < late_start)
        late = self._visits(
            catalogue, veterans, self.volumes.late, during=(late_start, self.start - DAY)
        )
        late["arrived"] = self._times(self.volumes.late)[late["session"]]
        events = draws.merge_sessions([purchases, browsing, late])
        columns = draws.clickstream_columns(
            events,
            first_session=shop.next_session,
            user_ids=self.user_ids,
            product_ids=shop.product_id,
            order_ids=self.order_ids,
        )
        self._insert(
            "clickstream", pa.table(columns), created=events["ts"], updated=events["arrived"]
        )

    def _visits(
        self, catalogue: Catalogue, users: np.ndarray, count: int, *, during: tuple[int, int]
    ) -> Events:
        """`count` sessions without an order by some of `users` (positions in the shop's)."""
        visits = draws.browse_sessions(
            self.rng,
            count=count,
            product_weights=catalogue.weights,
            user_created=self.shop.user_created[users],
            start=during[0],
            stop=during[1],
        )
        return {**visits, "user": users[visits["user"]]}

    def _ratings(self) -> None:
        """Ratings of items bought 1-20 days ago, and a few late ones, written 1-3 days ago."""
        on_time, created = self._rated(
            self.volumes.ratings, placed=(RECENT_DAYS - 1, 1), written=(self.start, self.end)
        )
        late, late_created = self._rated(
            self.volumes.late,
            placed=(RECENT_DAYS, 2),
            written=(self.start - LATE_DAYS * DAY, self.start - DAY),
        )
        created = np.concatenate([created, late_created])
        rows = pa.concat_tables([on_time, late])
        self._insert("ratings", rows, created=created, updated=self._arrived(created))

    def _rated(
        self, count: int, *, placed: tuple[int, int], written: tuple[int, int]
    ) -> tuple[pa.Table, np.ndarray]:
        """Ratings of `count` items of orders placed `placed` days ago, written within
        `written` but at least a day after the order; the rows and when they were written."""
        shop = self.shop
        item = self._choose(self._recent_items(placed), count)
        earliest = np.maximum(written[0], shop.item_order_ts[item] + DAY)
        created = uniform_ts(self.rng, earliest, written[1], item.size)
        rows = {
            "product_id": shop.item_product[item],
            "user_id": shop.item_user[item],
            "rating": draws.ratings(self.rng, item.size),
        }
        return pa.table(rows), created

    def _prices(self) -> None:
        """A few products repriced by up to 20% either way."""
        shop = self.shop
        chosen = self._choose(shop.product_id.size, self.volumes.edits)
        change = self.rng.uniform(0.8, 1.2, chosen.size)
        price = np.clip(np.round(shop.product_price_cents[chosen] * change), 99, 500_000)
        columns = {"price": draws.money(price.astype(np.int64), precision=10)}
        self._update("product", shop.product_id[chosen], columns, self._times(chosen.size))

    def _user_details(self) -> None:
        """A few users move their email to another provider, half of them after a new last
        name; the address stays well-formed."""
        shop = self.shop
        chosen = self._choose(shop.user_id.size, self.volumes.edits)
        renamed = self.rng.random(chosen.size) < 0.5
        last = [
            self.fake.last_name() if new else str(old)
            for new, old in zip(renamed, shop.user_last[chosen], strict=True)
        ]
        emails = [
            f"{draws.username(str(first), name, user)}@{self.fake.free_email_domain()}"
            for first, name, user in zip(
                shop.user_first[chosen], last, shop.user_id[chosen], strict=True
            )
        ]
        columns = {"last_name": last, "email": emails}
        self._update("appuser", shop.user_id[chosen], columns, self._times(chosen.size))

    def _edited_ratings(self, chosen: np.ndarray) -> None:
        """Ratings their users changed their mind about: another number of stars, 1-5."""
        shop = self.shop
        stars = (shop.rating_value[chosen] - 1 + self.rng.integers(1, 5, chosen.size)) % 5 + 1
        columns = {"rating": pa.array(stars, pa.int16())}
        self._update("ratings", shop.rating_id[chosen], columns, self._times(chosen.size))

    def _recategorised(self) -> None:
        """A few products moved from one of their categories to a category they are not in."""
        shop = self.shop
        links = self._choose(shop.productcategory_id.size, self.volumes.removals)
        _, one_per_product = np.unique(shop.productcategory_product[links], return_index=True)
        moved, category = [], []
        for link in links[one_per_product]:
            product = shop.productcategory_product[link]
            taken = shop.productcategory_category[shop.productcategory_product == product]
            free = np.setdiff1d(shop.category_id, taken)
            if free.size:
                moved.append(shop.productcategory_id[link])
                category.append(self.rng.choice(free))
        columns = {"category_id": pa.array(category, pa.int64())}
        keys = np.array(moved, dtype=np.int64)
        self._update("productcategory", keys, columns, self._times(keys.size))

    def _settled_orders(self) -> None:
        """Correct a few orders of the last weeks, and recompute the totals of those and of the
        orders that got a late item today."""
        corrected, when, lines = self._corrected_items()
        orders = np.concatenate([corrected, self.late_orders])
        columns = {"total_price": draws.money(self._totals(orders, lines), precision=12)}
        self._update("orders", orders, columns, np.concatenate([when, self.late_arrived]))

    def _corrected_items(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """In each of a few orders placed 3-20 days ago, one item's quantity one more or one
        less, its tax recomputed; the orders, the moments of correction, and the cents of every
        recent item's line as corrected."""
        shop = self.shop
        orders = self._choose(self._placed((RECENT_DAYS - 1, LATE_DAYS)), self.volumes.edits)
        item = np.array(
            [self.rng.choice(np.flatnonzero(shop.item_order == order)) for order in orders],
            dtype=np.int64,
        )
        quantity = shop.item_quantity[item] + self.rng.choice([-1, 1], item.size)
        quantity = np.where(quantity >= 1, quantity, quantity + 2)
        base_cents = shop.item_base_cents[item]
        tax = draws.tax_cents(quantity, base_cents, self._order_facts(orders)[1])
        when = self._times(item.size)
        columns = {
            "quantity": pa.array(quantity, pa.int32()),
            "tax": draws.money(tax, precision=10),
        }
        self._update("orderitem", shop.item_id[item], columns, when)
        lines = shop.item_quantity * shop.item_base_cents + shop.item_tax_cents
        lines[item] = quantity * base_cents + tax
        return orders, when, lines

    def _totals(self, orders: np.ndarray, recent_lines: np.ndarray) -> np.ndarray:
        """The totals of recent `orders` in cents, summed from their items as stored: the
        recent ones (`recent_lines`) and today's, defects included."""
        added = self.inserts["orderitem"]
        added_lines = added.column("quantity").to_numpy().astype(np.int64) * draws.cents(
            added.column("base_price")
        ) + draws.cents(added.column("tax"))
        owner = np.concatenate([self.shop.item_order, added.column("order_id").to_numpy()])
        lines = np.concatenate([recent_lines, added_lines])
        return np.array([lines[owner == order].sum() for order in orders], dtype=np.int64)
