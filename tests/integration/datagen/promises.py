"""What datagen promises about the data in Postgres, as queries that count the rows breaking
it, shared by the tests of a load and of an advance; and `fetch` to run them."""

from __future__ import annotations

from typing import Any

import psycopg2
from psycopg2 import sql

from datagen import Generation

ORDERS_OFF_THEIR_ITEMS = """
    SELECT count(*)
    FROM rainforest.orders o
    LEFT JOIN (
        SELECT order_id, sum(quantity * base_price + tax) AS items_total
        FROM rainforest.orderitem
        GROUP BY order_id
    ) i USING (order_id)
    WHERE i.items_total IS DISTINCT FROM o.total_price
"""

PURCHASE_EVENTS = """
    SELECT count(*), count(DISTINCT c.order_id), bool_and(o.order_ts < c.event_ts)
    FROM rainforest.clickstream c JOIN rainforest.orders o USING (order_id)
    WHERE c.event_type = 'purchase'
"""


def fetch(dsn: str, statement: str | sql.Composable, params: Any = None) -> list[tuple]:
    """Run a statement in a transaction that is always rolled back, so tests share the data."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()
    finally:
        conn.rollback()
        conn.close()


def generation(dsn: str) -> Generation:
    """What the schema's comment says about its data."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            return Generation.read(cur)
    finally:
        conn.close()
