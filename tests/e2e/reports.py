"""What the end-to-end suites share: the reports computed on Postgres and from the lake."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg2

from datagen import SCHEMA
from etl.core import EMAIL
from etl.core.settings import Settings
from etl.core.table import RunContext
from etl.core.upstream import Upstream

# Written independently of the pipeline: straight from the upstream tables.
ORDER_REPORT_SQL = """
    SELECT order_ts::date, count(*), sum(total_price), round(avg(total_price), 2)
    FROM rainforest.orders
    GROUP BY 1
"""
CATEGORY_REPORT_SQL = """
    WITH item AS (
        SELECT o.order_ts::date AS order_date, c.name AS category,
               oi.quantity * oi.base_price AS revenue
        FROM rainforest.orderitem oi
        JOIN rainforest.orders o ON o.order_id = oi.order_id
        JOIN (SELECT DISTINCT product_id, category_id FROM rainforest.productcategory) pc
          ON pc.product_id = oi.product_id
        JOIN rainforest.category c ON c.category_id = pc.category_id
    )
    SELECT order_date, category, round(avg(revenue), 2),
           round((percentile_cont(0.5) WITHIN GROUP (ORDER BY revenue))::numeric, 2)
    FROM item
    GROUP BY 1, 2
"""

# The reports over clean rows only, as the silver tables' drop rules define them (see
# tests/e2e/test_dirty_data.py); parameters from `clean_report_params`.
CLEAN = """
    WITH clean_product AS (
        SELECT product_id FROM rainforest.product WHERE coalesce(price > 0, true)
    ), clean_buyer AS (
        SELECT b.buyer_id FROM rainforest.buyer b LEFT JOIN rainforest.appuser u USING (user_id)
        WHERE coalesce(u.email ~ %(email)s, true)
    ), clean_seller AS (
        SELECT s.seller_id FROM rainforest.seller s LEFT JOIN rainforest.appuser u USING (user_id)
        WHERE coalesce(u.email ~ %(email)s, true)
    ), item_total AS (
        SELECT order_id, sum(quantity * base_price + tax) AS total
        FROM rainforest.orderitem GROUP BY 1
    ), clean_order AS (
        SELECT o.* FROM rainforest.orders o LEFT JOIN item_total i USING (order_id)
        WHERE coalesce(o.order_ts <= %(now)s, true)
          AND coalesce(abs(o.total_price - coalesce(i.total, 0)) <= 0.01, true)
          AND o.buyer_id IN (SELECT buyer_id FROM clean_buyer)
    ), clean_item AS (
        SELECT oi.* FROM rainforest.orderitem oi
        WHERE coalesce(oi.quantity >= 1, true) AND coalesce(oi.base_price > 0, true)
          AND coalesce(oi.tax >= 0, true)
          AND oi.order_id IN (SELECT order_id FROM clean_order)
          AND oi.product_id IN (SELECT product_id FROM clean_product)
          AND oi.seller_id IN (SELECT seller_id FROM clean_seller)
    )
"""
CLEAN_ORDER_REPORT_SQL = (
    CLEAN
    + """
    SELECT order_ts::date, count(*), sum(total_price), round(avg(total_price), 2)
    FROM clean_order GROUP BY 1
"""
)
CLEAN_CATEGORY_REPORT_SQL = (
    CLEAN
    + """
    , item AS (
        SELECT o.order_ts::date AS order_date, c.name AS category,
               oi.quantity * oi.base_price AS revenue
        FROM clean_item oi
        JOIN clean_order o ON o.order_id = oi.order_id
        JOIN (SELECT DISTINCT product_id, category_id FROM rainforest.productcategory) pc
          ON pc.product_id = oi.product_id
        JOIN rainforest.category c ON c.category_id = pc.category_id
    )
    SELECT order_date, category, round(avg(revenue), 2),
           round((percentile_cont(0.5) WITHIN GROUP (ORDER BY revenue))::numeric, 2)
    FROM item GROUP BY 1, 2
"""
)

Report = dict[tuple[object, ...], tuple[object, ...]]

# The gold marts, computed on Postgres from the CTEs `clean_product`, `clean_order`,
# `clean_item`, `clean_rating` and `clean_event`: every row on clean data (`ALL_ROWS`), the
# rows the silver tables keep on dirty data (`CLEAN_ROWS`). Each mart's query ends in one
# SELECT whose first columns are the lake table's primary key.
ALL_ROWS = """
    WITH clean_product AS (SELECT product_id FROM rainforest.product),
    clean_order AS (SELECT * FROM rainforest.orders),
    clean_item AS (SELECT * FROM rainforest.orderitem),
    clean_rating AS (SELECT * FROM rainforest.ratings),
    clean_event AS (SELECT * FROM rainforest.clickstream)
"""
CLEAN_ROWS = (
    CLEAN
    + """
    , clean_rating AS (
        SELECT * FROM rainforest.ratings WHERE coalesce(rating BETWEEN 1 AND 5, true)
    ), clean_event AS (
        SELECT * FROM (
            SELECT c.*, row_number() OVER (
                PARTITION BY user_id, event_type, product_id, event_ts ORDER BY clickstream_id
            ) AS nth
            FROM rainforest.clickstream c
        ) c
        WHERE nth = 1
          AND coalesce(event_type IN ('view', 'add_to_cart', 'checkout', 'purchase'), true)
          AND coalesce(event_ts <= %(now)s, true)
          AND (product_id IS NULL OR product_id IN (SELECT product_id FROM clean_product))
    )
"""
)

# A session is its upstream session id (every generated event has one), on the UTC date of
# its first event; it reaches a step when it has events of that step and of every one before
# it. Per category, the view and the cart are those of the category's products.
SESSIONS = """
    , event AS (SELECT * FROM clean_event WHERE session_id IS NOT NULL)
    , session AS (
        SELECT session_id, min(event_ts) AS started,
               coalesce(bool_or(event_type = 'view'), false) AS has_view,
               coalesce(bool_or(event_type = 'add_to_cart'), false) AS has_cart,
               coalesce(bool_or(event_type = 'checkout'), false) AS has_checkout,
               coalesce(bool_or(event_type = 'purchase'), false) AS has_purchase
        FROM event GROUP BY session_id
    ), category_session AS (
        SELECT e.session_id, c.name AS category,
               coalesce(bool_or(e.event_type = 'view'), false) AS has_view,
               coalesce(bool_or(e.event_type = 'add_to_cart'), false) AS has_cart
        FROM event e
        JOIN (SELECT DISTINCT product_id, category_id FROM rainforest.productcategory) pc
          USING (product_id)
        JOIN rainforest.category c USING (category_id)
        WHERE c.name IS NOT NULL
        GROUP BY 1, 2
    )
"""


def _funnel(steps: str, *keys: str) -> str:
    """The funnel's counts and rates per `keys` over the CTE `steps`, one row per session
    (and key) with `started`, `has_view`, `has_cart`, `has_checkout` and `has_purchase`."""
    by = ", ".join(keys)
    return f"""
    , reached AS (
        SELECT {by}, has_view AS viewed, has_view AND has_cart AS carted,
               has_view AND has_cart AND has_checkout AS checked_out,
               has_view AND has_cart AND has_checkout AND has_purchase AS purchased
        FROM {steps} WHERE started IS NOT NULL
    ), funnel AS (
        SELECT {by}, count(*) AS sessions,
               count(*) FILTER (WHERE viewed) AS viewed,
               count(*) FILTER (WHERE carted) AS carted,
               count(*) FILTER (WHERE checked_out) AS checked_out,
               count(*) FILTER (WHERE purchased) AS purchased,
               count(*) FILTER (WHERE carted AND NOT purchased) AS abandoned
        FROM reached GROUP BY {by}
    )
    SELECT {by}, sessions, viewed, carted, checked_out, purchased, abandoned,
           round(carted::numeric / nullif(viewed, 0), 4),
           round(checked_out::numeric / nullif(carted, 0), 4),
           round(purchased::numeric / nullif(checked_out, 0), 4),
           round(purchased::numeric / sessions, 4),
           round(abandoned::numeric / nullif(carted, 0), 4)
    FROM funnel
"""


DAILY_FUNNEL_SQL = SESSIONS + _funnel("(SELECT started::date AS day, * FROM session) s", "day")
CATEGORY_FUNNEL_SQL = SESSIONS + _funnel(
    """(SELECT s.started, s.started::date AS day, c.category, c.has_view, c.has_cart,
               s.has_checkout, s.has_purchase
        FROM category_session c JOIN session s USING (session_id)) s""",
    "day",
    "category",
)
BUSINESS_SQL = (
    SESSIONS
    + """
    , session_day AS (
        SELECT started::date AS day, count(*) AS sessions,
               count(*) FILTER (WHERE has_view AND has_cart AND has_checkout AND has_purchase)
                   AS purchased
        FROM session WHERE started IS NOT NULL GROUP BY 1
    ), kept AS (
        SELECT * FROM clean_order WHERE order_ts IS NOT NULL
    ), first_order AS (
        SELECT buyer_id, min(order_ts::date) AS first FROM kept GROUP BY 1
    ), sales AS (
        SELECT k.order_ts::date AS day, count(*) AS orders, sum(total_price) AS revenue,
               round(avg(total_price), 2) AS aov, count(DISTINCT k.buyer_id) AS buyers,
               count(DISTINCT k.buyer_id) FILTER (WHERE k.order_ts::date = f.first) AS new,
               count(DISTINCT k.buyer_id) FILTER (WHERE k.order_ts::date > f.first) AS returning
        FROM kept k LEFT JOIN first_order f USING (buyer_id) GROUP BY 1
    ), items AS (
        SELECT o.order_ts::date AS day, sum(i.quantity) AS items
        FROM clean_item i JOIN kept o USING (order_id) GROUP BY 1
    ), upstream_orders AS (
        SELECT order_ts::date AS day, count(*) AS n FROM rainforest.orders
        WHERE order_ts IS NOT NULL GROUP BY 1
    ), upstream_events AS (
        SELECT event_ts::date AS day, count(*) AS n FROM rainforest.clickstream
        WHERE event_ts IS NOT NULL GROUP BY 1
    ), kept_events AS (
        SELECT event_ts::date AS day, count(*) AS n FROM clean_event
        WHERE event_ts IS NOT NULL GROUP BY 1
    ), measured AS (
        SELECT d.day, coalesce(s.orders, 0) AS orders, coalesce(s.revenue, 0) AS revenue, s.aov,
               coalesce(i.items, 0) AS items, coalesce(s.buyers, 0) AS buyers,
               coalesce(s.new, 0) AS new, coalesce(s.returning, 0) AS returning,
               coalesce(f.sessions, 0) AS sessions,
               round(f.purchased::numeric / f.sessions, 4) AS conversion,
               coalesce(uo.n, 0) AS upstream_orders,
               coalesce(uo.n, 0) - coalesce(s.orders, 0) AS quarantined_orders,
               coalesce(ue.n, 0) AS upstream_events,
               coalesce(ue.n, 0) - coalesce(ke.n, 0) AS quarantined_events
        FROM (SELECT day FROM upstream_orders UNION SELECT day FROM upstream_events) d
        LEFT JOIN sales s USING (day) LEFT JOIN items i USING (day)
        LEFT JOIN session_day f USING (day) LEFT JOIN upstream_orders uo USING (day)
        LEFT JOIN upstream_events ue USING (day) LEFT JOIN kept_events ke USING (day)
    )
    SELECT *, round(quarantined_orders::numeric / nullif(upstream_orders, 0), 4),
           round(quarantined_events::numeric / nullif(upstream_events, 0), 4)
    FROM measured
"""
)
SEGMENTS_SQL = """
    , buyer AS (
        SELECT buyer_id, sum(total_price) AS spent, count(*) AS orders,
               round(avg(total_price), 2) AS aov,
               min(order_ts::date) AS first, max(order_ts::date) AS last
        FROM clean_order WHERE buyer_id IS NOT NULL AND order_ts IS NOT NULL GROUP BY 1
    ), bought AS (
        SELECT o.buyer_id, count(DISTINCT i.product_id) AS products,
               sum(i.quantity * i.base_price) AS value
        FROM clean_item i JOIN clean_order o USING (order_id)
        WHERE o.buyer_id IS NOT NULL AND o.order_ts IS NOT NULL GROUP BY 1
    ), measured AS (
        SELECT b.*, coalesce(p.products, 0) AS products, coalesce(p.value, 0) AS value,
               (max(last) OVER ()) - last AS recency
        FROM buyer b LEFT JOIN bought p USING (buyer_id)
    ), scored AS (
        SELECT *,
               1 + 5 * (rank() OVER (ORDER BY recency DESC) - 1) / count(*) OVER () AS r,
               1 + 5 * (rank() OVER (ORDER BY orders) - 1) / count(*) OVER () AS f,
               1 + 5 * (rank() OVER (ORDER BY spent NULLS FIRST) - 1) / count(*) OVER () AS m
        FROM measured
    )
    SELECT buyer_id, spent, orders, aov, first, last, products, value, recency, r, f, m,
           CASE WHEN r >= 4 AND f >= 4 THEN 'champions'
                WHEN r <= 2 AND f >= 4 THEN 'at_risk'
                WHEN f >= 4 THEN 'loyal'
                WHEN r >= 4 THEN 'promising'
                WHEN r <= 2 THEN 'hibernating'
                ELSE 'needs_attention' END,
           CASE WHEN value >= 5000 THEN 'high' WHEN value >= 1000 THEN 'medium' ELSE 'low' END
    FROM scored
"""
PRODUCTS_SQL = """
    , sales AS (
        SELECT product_id, sum(quantity * base_price) AS revenue, sum(quantity) AS quantity,
               count(DISTINCT order_id) AS orders
        FROM clean_item GROUP BY 1
    ), rated AS (
        SELECT product_id, round(avg(rating), 2) AS mean_rating, count(rating) AS ratings
        FROM clean_rating GROUP BY 1
    ), listed AS (
        SELECT DISTINCT pc.product_id, c.name AS category
        FROM rainforest.productcategory pc JOIN rainforest.category c USING (category_id)
        WHERE c.name IS NOT NULL AND pc.product_id IN (SELECT product_id FROM clean_product)
    ), product AS (
        SELECT l.category, l.product_id, p.name, coalesce(s.revenue, 0) AS revenue,
               coalesce(s.quantity, 0) AS quantity, coalesce(s.orders, 0) AS orders,
               round(s.revenue / nullif(s.quantity, 0), 2) AS price, r.mean_rating,
               coalesce(r.ratings, 0) AS ratings
        FROM listed l JOIN rainforest.product p USING (product_id)
        LEFT JOIN sales s USING (product_id) LEFT JOIN rated r USING (product_id)
    )
    SELECT *, rank() OVER (PARTITION BY category ORDER BY revenue DESC),
           max(revenue) OVER (PARTITION BY category) - revenue
    FROM product
"""

# Point in time: each window ends the day before the row's day (day numbers, so that RANGE
# offsets are plain integers).
FEATURES_SQL = """
    , activity AS (
        SELECT user_id, event_ts::date AS day, (event_type = 'view')::int AS views,
               (event_type = 'add_to_cart')::int AS carts,
               (event_type = 'checkout')::int AS checkouts, 0 AS orders, 0 AS revenue
        FROM clean_event WHERE user_id IS NOT NULL AND event_ts IS NOT NULL
        UNION ALL
        SELECT b.user_id, o.order_ts::date, 0, 0, 0, 1, 0
        FROM clean_order o JOIN rainforest.buyer b USING (buyer_id)
        WHERE o.order_ts IS NOT NULL
        UNION ALL
        SELECT b.user_id, o.order_ts::date, 0, 0, 0, 0, i.quantity * i.base_price
        FROM clean_item i JOIN clean_order o USING (order_id)
        JOIN rainforest.buyer b USING (buyer_id)
        WHERE o.order_ts IS NOT NULL
    ), daily AS (
        SELECT user_id, day, day - DATE '1970-01-01' AS n, sum(views) AS views,
               sum(carts) AS carts, sum(checkouts) AS checkouts, sum(orders) AS orders,
               sum(revenue) AS revenue
        FROM activity GROUP BY 1, 2
    ), windowed AS (
        SELECT user_id, day, n,
               coalesce(sum(views) OVER w7, 0) AS views7, coalesce(sum(carts) OVER w7, 0) AS carts7,
               coalesce(sum(orders) OVER w7, 0) AS orders7,
               coalesce(sum(revenue) OVER w7, 0) AS revenue7,
               coalesce(sum(views) OVER w30, 0) AS views30,
               coalesce(sum(carts) OVER w30, 0) AS carts30,
               coalesce(sum(orders) OVER w30, 0) AS orders30,
               coalesce(sum(revenue) OVER w30, 0) AS revenue30,
               sum(checkouts) OVER w30 AS checkouts30,
               max(CASE WHEN orders > 0 THEN n END) OVER ever AS last_order,
               max(CASE WHEN carts > 0 THEN n END) OVER w7 AS last_cart,
               sum(revenue) OVER ever AS lifetime
        FROM daily
        WINDOW w7 AS (PARTITION BY user_id ORDER BY n RANGE BETWEEN 7 PRECEDING AND 1 PRECEDING),
               w30 AS (PARTITION BY user_id ORDER BY n RANGE BETWEEN 30 PRECEDING AND 1 PRECEDING),
               ever AS (PARTITION BY user_id ORDER BY n
                        RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    ), viewed AS (
        SELECT e.user_id, e.event_ts::date - DATE '1970-01-01' AS n, c.name AS category,
               count(*) AS views
        FROM clean_event e
        JOIN (SELECT DISTINCT product_id, category_id FROM rainforest.productcategory) pc
          USING (product_id)
        JOIN rainforest.category c USING (category_id)
        WHERE e.event_type = 'view' AND e.user_id IS NOT NULL AND c.name IS NOT NULL
        GROUP BY 1, 2, 3
    ), favourite AS (
        SELECT DISTINCT ON (d.user_id, d.n) d.user_id, d.n, v.category
        FROM daily d JOIN viewed v ON v.user_id = d.user_id AND v.n >= d.n - 30 AND v.n < d.n
        GROUP BY d.user_id, d.n, v.category
        ORDER BY d.user_id, d.n, sum(v.views) DESC, v.category COLLATE "C"
    )
    SELECT w.user_id, w.day, views7, carts7, orders7, revenue7, views30, carts30, orders30,
           revenue30, round(carts30::numeric / nullif(views30, 0), 4),
           round(checkouts30::numeric / nullif(carts30, 0), 4), w.n - last_order,
           last_cart IS NOT NULL AND (last_order IS NULL OR last_cart > last_order),
           last_order IS NOT NULL, coalesce(lifetime >= 5000, false), f.category
    FROM windowed w LEFT JOIN favourite f USING (user_id, n)
"""


@dataclass(frozen=True)
class Mart:
    """A gold table checked row by row against its query on Postgres."""

    table: str
    sql: str
    keys: tuple[str, ...]
    values: tuple[str, ...]

    def expected(self, dsn: str, *, clean_rows_before: datetime | None = None) -> Report:
        """The mart on Postgres: over every row, or over the rows silver keeps on dirty
        data when given the moment rows must not lie after."""
        if clean_rows_before is None:
            return postgres_report(dsn, ALL_ROWS + self.sql, len(self.keys))
        params = clean_report_params(clean_rows_before)
        return postgres_report(dsn, CLEAN_ROWS + self.sql, len(self.keys), params)

    def actual(self, context: RunContext) -> Report:
        """The mart as the lake holds it, keyed like `expected`."""
        return lake_report(context, self.table, list(self.keys), list(self.values))


FUNNEL_STEPS = (
    "sessions",
    "viewed_sessions",
    "cart_sessions",
    "checkout_sessions",
    "purchase_sessions",
    "abandoned_carts",
    "view_to_cart_rate",
    "cart_to_checkout_rate",
    "checkout_to_purchase_rate",
    "conversion_rate",
    "cart_abandonment_rate",
)
MARTS = (
    Mart("daily_funnel_metrics", DAILY_FUNNEL_SQL, ("session_date",), FUNNEL_STEPS),
    Mart(
        "daily_category_funnel_metrics",
        CATEGORY_FUNNEL_SQL,
        ("session_date", "category"),
        FUNNEL_STEPS,
    ),
    Mart(
        "daily_business_metrics",
        BUSINESS_SQL,
        ("business_date",),
        (
            "orders",
            "revenue_usd",
            "average_order_value_usd",
            "items_sold",
            "unique_buyers",
            "new_buyers",
            "returning_buyers",
            "sessions",
            "conversion_rate",
            "upstream_orders",
            "quarantined_orders",
            "upstream_events",
            "quarantined_events",
            "quarantined_order_share",
            "quarantined_event_share",
        ),
    ),
    Mart(
        "customer_segments",
        SEGMENTS_SQL,
        ("buyer_id",),
        (
            "total_spent_usd",
            "order_count",
            "average_order_value_usd",
            "first_order_date",
            "last_order_date",
            "distinct_products",
            "lifetime_value_usd",
            "recency_days",
            "recency_score",
            "frequency_score",
            "monetary_score",
            "rfm_segment",
            "value_tier",
        ),
    ),
    Mart(
        "product_performance",
        PRODUCTS_SQL,
        ("category", "product_id"),
        (
            "product_name",
            "revenue_usd",
            "quantity_sold",
            "order_count",
            "average_selling_price_usd",
            "mean_rating",
            "rating_count",
            "revenue_rank",
            "revenue_gap_to_best_usd",
        ),
    ),
    Mart(
        "user_daily_features",
        FEATURES_SQL,
        ("user_id", "feature_date"),
        (
            "views_7d",
            "cart_adds_7d",
            "orders_7d",
            "revenue_usd_7d",
            "views_30d",
            "cart_adds_30d",
            "orders_30d",
            "revenue_usd_30d",
            "view_to_cart_rate_30d",
            "cart_to_checkout_rate_30d",
            "days_since_last_order",
            "has_abandoned_cart",
            "is_buyer",
            "is_high_value",
            "favourite_category",
        ),
    ),
)
"""Every mart of the issue's list, in the order they are built."""


def clean_report_params(now: datetime) -> dict[str, object]:
    """The parameters of the clean reports: the email pattern, and the moment `now` that
    orders must not lie after (a run's end of day)."""
    return {"email": EMAIL, "now": now}


def pipeline_settings(folder: Path) -> Settings:
    """A small local run: its own warehouse in `folder`."""
    return Settings(
        spark_master="local[2]", spark_shuffle_partitions=2, warehouse=str(folder / "lakehouse")
    )


def upstream_at(dsn: str) -> Upstream:
    """The generated shop's schema in the database of `dsn`, as a run's upstream."""
    return Upstream(dsn=dsn, schema=SCHEMA)


def postgres_report(
    dsn: str, query: str, key_columns: int, params: Mapping[str, object] | None = None
) -> Report:
    """Rows of `query` keyed by their first `key_columns` columns, dates taken in UTC."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute(query, params)
        return {row[:key_columns]: tuple(row[key_columns:]) for row in cursor.fetchall()}


def lake_report(context: RunContext, table: str, keys: list[str], values: list[str]) -> Report:
    """A lake table's current rows, keyed like `postgres_report`."""
    data = context.registry.get(table)(context).read().curr_data
    return {
        tuple(row[k] for k in keys): tuple(row[v] for v in values)
        for row in data.select(*keys, *values).collect()
    }


def order_report(context: RunContext) -> Report:
    """The daily order report as the lake holds it, keyed like `ORDER_REPORT_SQL`."""
    return lake_report(
        context,
        "daily_order_metrics",
        ["order_date"],
        ["order_count", "total_revenue", "mean_revenue"],
    )


def category_report(context: RunContext) -> Report:
    """The daily category report as the lake holds it, keyed like `CATEGORY_REPORT_SQL`."""
    return lake_report(
        context,
        "daily_category_metrics",
        ["order_date", "category"],
        ["mean_revenue", "median_revenue"],
    )
