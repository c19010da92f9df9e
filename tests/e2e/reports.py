"""What the end-to-end suites share: the reports computed on Postgres and from the lake."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import psycopg2

from datagen import SCHEMA
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

Report = dict[tuple[object, ...], tuple[object, ...]]


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
