"""Move the shop in Postgres forward by whole days, so the lakehouse has an upstream that changes.

The schema's comment (`Generation`) says which shop it holds (scale, seed) and the last day
simulated. Each new day reads the rows it needs, computes its changes in memory (`day.py`)
and writes them in one transaction with the moved clock: a crash leaves whole days only.
The random draws of a day depend on (seed, day) alone, so the same database advanced the same
days ends up the same.

Writes: COPY for new rows, COPY into a temporary table and one `UPDATE ... FROM` per changed
table, one `DELETE ... WHERE key = ANY(...)` per table that loses rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from psycopg2 import sql

from datagen.day import KEYS, RECENT_DAYS, Changes, Shop, day_start, simulate_day
from datagen.dirty import Defects
from datagen.draws import DAY
from datagen.errors import DatagenError
from datagen.generator import TABLES
from datagen.load import SCHEMA, Generation, copy_rows, move_key_sequence

if TYPE_CHECKING:
    from psycopg2.extensions import connection, cursor


@dataclass(frozen=True, kw_only=True)
class DayChanges:
    """What one simulated day wrote: rows inserted and updated per table, keys deleted."""

    day: date
    inserted: dict[str, int]
    updated: dict[str, int]
    deleted: dict[str, tuple[int, ...]]
    defects: Defects | None
    seconds: float

    def counts(self) -> dict[str, tuple[int, int, int]]:
        """(inserted, updated, deleted) per table the day changed, in load order."""
        counts = {
            name: (
                self.inserted.get(name, 0),
                self.updated.get(name, 0),
                len(self.deleted.get(name, ())),
            )
            for name in TABLES
        }
        return {name: count for name, count in counts.items() if any(count)}


def advance(conn: connection, *, days: int, dirty: float | None = None) -> list[DayChanges]:
    """Simulate the `days` days after the last one schema `rainforest` holds, one transaction
    each: new users, products, orders, sessions and ratings; edits of existing rows; rows that
    arrive late; and a few deletes. With `dirty`, the new rows get defects as `--dirty` gives a
    load, and each day reports them.

    Example::

        with connect(dsn) as conn:
            for day in advance(conn, days=3):
                print(day.day, day.counts())
    """
    if days < 1:
        raise DatagenError(f"Advance by at least one day, not {days}.")
    return [_advance_one_day(conn, dirty) for _ in range(days)]


def _advance_one_day(conn: connection, dirty: float | None) -> DayChanges:
    started = time.perf_counter()
    with conn, conn.cursor() as cur:
        # Timestamps copy in zone-less, as load writes them: the session must read them as UTC.
        cur.execute(
            sql.SQL("SET LOCAL timezone = 'UTC'; SET LOCAL search_path = {}").format(
                sql.Identifier(SCHEMA)
            )
        )
        # Two advances at once would simulate the same day twice: the second waits for the
        # first to commit, then reads the clock it moved.
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{SCHEMA}.advance",))
        generation = Generation.read(cur)
        day = generation.simulated_through + timedelta(days=1)
        shop = _read_shop(cur, day)
        changes = simulate_day(
            shop, day=day, scale=generation.scale, seed=generation.seed, dirty=dirty
        )
        _write(cur, changes)
        replace(generation, simulated_through=day).write(cur)
    return DayChanges(
        day=day,
        inserted={name: table.num_rows for name, table in changes.inserts.items()},
        updated={name: table.num_rows for name, table in changes.updates.items()},
        deleted={name: tuple(int(key) for key in keys) for name, keys in changes.deletes.items()},
        defects=changes.defects,
        seconds=time.perf_counter() - started,
    )


# Each query fills the `Shop` fields named with it; every one is in key order, so a day's draws
# see the rows in the same order on every run.
_SHOP_QUERIES: dict[tuple[str, ...], str] = {
    ("user_id", "user_first", "user_last", "user_created"): (
        "SELECT user_id, first_name, last_name, extract(epoch FROM created_ts)::bigint "
        "FROM appuser ORDER BY user_id"
    ),
    ("brand_id", "brand_name"): "SELECT brand_id, name FROM brand ORDER BY brand_id",
    ("manufacturer_id",): "SELECT manufacturer_id FROM manufacturer ORDER BY manufacturer_id",
    ("category_id",): "SELECT category_id FROM category ORDER BY category_id",
    ("product_id", "product_price_cents", "product_sales"): (
        "SELECT p.product_id, (p.price * 100)::bigint, count(i.orderitem_id) "
        "FROM product p LEFT JOIN orderitem i USING (product_id) "
        "GROUP BY p.product_id ORDER BY p.product_id"
    ),
    ("productcategory_id", "productcategory_product", "productcategory_category"): (
        "SELECT productcategory_id, product_id, category_id "
        "FROM productcategory ORDER BY productcategory_id"
    ),
    ("seller_id",): "SELECT seller_id FROM seller ORDER BY seller_id",
    ("sellerproduct_id", "sellerproduct_seller", "sellerproduct_product"): (
        "SELECT sellerproduct_id, seller_id, product_id FROM sellerproduct "
        "ORDER BY sellerproduct_id"
    ),
    ("buyer_id", "buyer_user", "buyer_created", "buyer_orders"): (
        "SELECT b.buyer_id, b.user_id, extract(epoch FROM b.created_ts)::bigint, "
        "count(o.order_id) FROM buyer b LEFT JOIN orders o USING (buyer_id) "
        "GROUP BY b.buyer_id ORDER BY b.buyer_id"
    ),
    ("rating_id", "rating_value"): "SELECT rating_id, rating FROM ratings ORDER BY rating_id",
    (
        "item_id",
        "item_order",
        "item_product",
        "item_quantity",
        "item_base_cents",
        "item_tax_cents",
        "item_order_ts",
        "item_user",
    ): (
        "SELECT i.orderitem_id, i.order_id, i.product_id, i.quantity, "
        "(i.base_price * 100)::bigint, (i.tax * 100)::bigint, "
        "extract(epoch FROM o.order_ts)::bigint, b.user_id "
        "FROM orderitem i JOIN orders o USING (order_id) JOIN buyer b USING (buyer_id) "
        "WHERE o.order_ts >= to_timestamp(%(since)s) AND o.order_ts < to_timestamp(%(until)s) "
        "ORDER BY i.orderitem_id"
    ),
}


def _read_shop(cur: cursor, day: date) -> Shop:
    start = day_start(day)
    window = {"since": start - RECENT_DAYS * DAY, "until": start}
    fields: dict[str, Any] = {}
    for names, query in _SHOP_QUERIES.items():
        cur.execute(query, window)
        rows = cur.fetchall()
        columns = zip(*rows, strict=True) if rows else ([] for _ in names)
        fields.update(
            {name: np.array(list(values)) for name, values in zip(names, columns, strict=True)}
        )
    fields["next_key"] = {name: _next(cur, name, key) for name, key in KEYS.items()}
    fields["next_session"] = _next(cur, "clickstream", "session_id")
    return Shop(**fields)


def _next(cur: cursor, table: str, column: str) -> int:
    """The value after the largest in `column`: the next key the shop hands out."""
    cur.execute(
        sql.SQL("SELECT coalesce(max({}), 0) + 1 FROM {}").format(
            sql.Identifier(column), sql.Identifier(SCHEMA, table)
        )
    )
    return int(cur.fetchone()[0])


def _write(cur: cursor, changes: Changes) -> None:
    for name, keys in changes.deletes.items():
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
                sql.Identifier(SCHEMA, name), sql.Identifier(KEYS[name])
            ),
            (keys.tolist(),),
        )
    for name in TABLES:
        if name in changes.inserts:
            copy_rows(cur, name, changes.inserts[name])
            move_key_sequence(cur, name, KEYS[name])
    for name, table in changes.updates.items():
        _update(cur, name, table)


def _update(cur: cursor, name: str, table: pa.Table) -> None:
    """Set the columns of `table` on the rows of table `name` with its keys (its first column)."""
    key, *columns = table.column_names
    changes = f"{name}_changes"
    cur.execute(
        sql.SQL(
            "CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA"
        ).format(
            sql.Identifier(changes),
            sql.SQL(", ").join(map(sql.Identifier, table.column_names)),
            sql.Identifier(SCHEMA, name),
        )
    )
    copy_rows(cur, changes, table, schema="pg_temp")
    cur.execute(
        sql.SQL("UPDATE {} AS t SET {} FROM {} AS c WHERE t.{key} = c.{key}").format(
            sql.Identifier(SCHEMA, name),
            sql.SQL(", ").join(
                sql.SQL("{column} = c.{column}").format(column=sql.Identifier(column))
                for column in columns
            ),
            sql.Identifier("pg_temp", changes),
            key=sql.Identifier(key),
        )
    )
