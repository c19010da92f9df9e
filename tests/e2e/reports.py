"""What the end-to-end suites share: the reports computed on Postgres and from the lake."""

from __future__ import annotations

from collections.abc import Mapping
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

# The funnel from the CTE `event`: a session is its upstream session id (every generated
# event has one), on the UTC date of its first event, and reaches a step when it has events
# of that step and of every one before it.
FUNNEL_SQL = """
    , session AS (
        SELECT session_id, min(event_ts) AS started,
               coalesce(bool_or(event_type = 'view'), false) AS has_view,
               coalesce(bool_or(event_type = 'add_to_cart'), false) AS has_cart,
               coalesce(bool_or(event_type = 'checkout'), false) AS has_checkout,
               coalesce(bool_or(event_type = 'purchase'), false) AS has_purchase
        FROM event GROUP BY session_id
    ), step AS (
        SELECT started, has_view AS viewed, has_view AND has_cart AS carted,
               has_view AND has_cart AND has_checkout AS checked_out,
               has_view AND has_cart AND has_checkout AND has_purchase AS purchased
        FROM session
    ), day AS (
        SELECT started::date AS day, count(*) AS sessions,
               count(*) FILTER (WHERE viewed) AS viewed,
               count(*) FILTER (WHERE carted) AS carted,
               count(*) FILTER (WHERE checked_out) AS checked_out,
               count(*) FILTER (WHERE purchased) AS purchased,
               count(*) FILTER (WHERE carted AND NOT purchased) AS abandoned
        FROM step WHERE started IS NOT NULL GROUP BY 1
    )
    SELECT day, sessions, viewed, carted, checked_out, purchased, abandoned,
           round(carted::numeric / nullif(viewed, 0), 4),
           round(checked_out::numeric / nullif(carted, 0), 4),
           round(purchased::numeric / nullif(checked_out, 0), 4),
           round(purchased::numeric / sessions, 4),
           round(abandoned::numeric / nullif(carted, 0), 4)
    FROM day
"""
FUNNEL_REPORT_SQL = (
    "WITH event AS (SELECT * FROM rainforest.clickstream WHERE session_id IS NOT NULL)" + FUNNEL_SQL
)
CLEAN_FUNNEL_REPORT_SQL = (
    CLEAN
    + """
    , event AS (
        SELECT * FROM (
            SELECT c.*, row_number() OVER (
                PARTITION BY user_id, event_type, product_id, event_ts ORDER BY clickstream_id
            ) AS nth
            FROM rainforest.clickstream c
        ) c
        WHERE session_id IS NOT NULL AND nth = 1
          AND coalesce(event_type IN ('view', 'add_to_cart', 'checkout', 'purchase'), true)
          AND coalesce(event_ts <= %(now)s, true)
          AND (product_id IS NULL OR product_id IN (SELECT product_id FROM clean_product))
    )
"""
    + FUNNEL_SQL
)

Report = dict[tuple[object, ...], tuple[object, ...]]


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


def funnel_report(context: RunContext) -> Report:
    """The daily funnel as the lake holds it, keyed like `FUNNEL_REPORT_SQL`."""
    return lake_report(
        context,
        "daily_funnel_metrics",
        ["session_date"],
        [
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
        ],
    )


def category_report(context: RunContext) -> Report:
    """The daily category report as the lake holds it, keyed like `CATEGORY_REPORT_SQL`."""
    return lake_report(
        context,
        "daily_category_metrics",
        ["order_date", "category"],
        ["mean_revenue", "median_revenue"],
    )
