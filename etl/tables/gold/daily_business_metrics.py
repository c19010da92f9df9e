"""Daily business metrics: one row per day with the numbers a dashboard opens with."""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from etl.core import Table, TableSpec, between
from etl.tables.gold._funnel import rate
from etl.tables.gold._money import USD_SUM, mean_usd

DAY = "business_date"
SHARES = {
    "quarantined_order_share": ("quarantined_orders", "upstream_orders"),
    "quarantined_event_share": ("quarantined_events", "upstream_events"),
}
SALES = ("orders", "items_sold", "unique_buyers", "new_buyers", "returning_buyers", "sessions")
UPSTREAM = ("upstream_orders", "upstream_events")
COUNTS = (*SALES, *UPSTREAM, "quarantined_orders", "quarantined_events")
"""Every count the table holds: 0 on a day without the rows counted."""


class DailyBusinessMetrics(Table):
    """One row per day on which upstream recorded an order or a clickstream event (by its
    own timestamp, in UTC): sales, buyers, the funnel's conversion and the share of the day's
    rows that quality rules quarantined.

    Sales count the orders and items kept in silver. A buyer is new on the day of their
    first kept order and returning on any later day they order. The conversion is that of
    `daily_funnel_metrics` (null without sessions). Quarantined rows are the day's upstream
    orders (or events) in their current version that `fact_orders` (or `fact_clickstream`)
    does not hold; a day that only exists through quarantined rows, such as an event dated
    in the future, is listed with its share at 1. Rebuilt whole: a buyer's first order can
    move, and with it who is new on later days.
    """

    spec = TableSpec(
        name="daily_business_metrics",
        grain="one row per day with an order or event upstream",
        primary_keys=(DAY,),
        upstream=(
            "fact_orders",
            "fact_order_items",
            "fact_clickstream",
            "daily_funnel_metrics",
            "orders",
            "clickstream",
        ),
        rules=(
            *(between(share, 0, 1, severity="fail") for share in SHARES),
            between("conversion_rate", 0, 1, severity="fail"),
            *(between(count, 0, severity="fail", name=f"{count}_not_negative") for count in COUNTS),
        ),
        column_descriptions={
            DAY: "The UTC date.",
            "orders": "Orders placed that day and kept in `fact_orders`.",
            "revenue_usd": "The exact sum of those orders' totals (items, tax included).",
            "average_order_value_usd": "The mean order total, half up to the cent.",
            "items_sold": "Units in those orders' kept items.",
            "unique_buyers": "Buyers who ordered that day.",
            "new_buyers": "Of those, buyers whose first kept order is that day's.",
            "returning_buyers": "Buyers who had ordered on an earlier day.",
            "sessions": "Sessions that started that day (`daily_funnel_metrics`).",
            "conversion_rate": "Sessions that purchased over sessions, to 4 places.",
            "upstream_orders": "Orders upstream dated that day, in their current version.",
            "quarantined_orders": "Of those, orders that `fact_orders` quarantined.",
            "quarantined_order_share": "`quarantined_orders / upstream_orders`, to 4 places.",
            "upstream_events": "Clickstream events upstream dated that day.",
            "quarantined_events": "Of those, events that `fact_clickstream` quarantined.",
            "quarantined_event_share": "`quarantined_events / upstream_events`, to 4 places.",
        },
    )

    def transform(
        self,
        fact_orders: DataFrame,
        fact_order_items: DataFrame,
        fact_clickstream: DataFrame,
        daily_funnel_metrics: DataFrame,
        orders: DataFrame,
        clickstream: DataFrame,
    ) -> DataFrame:
        kept_orders = fact_orders.where(F.col("order_date").isNotNull())
        first_orders = kept_orders.groupBy("buyer_id").agg(F.min("order_date").alias("first"))
        sales = (
            kept_orders.join(first_orders, "buyer_id", "left")
            .groupBy(F.col("order_date").alias(DAY))
            .agg(
                F.count("order_id").alias("orders"),
                F.sum("total_price_usd").alias("revenue_usd"),
                mean_usd("total_price_usd").alias("average_order_value_usd"),
                F.count_distinct("buyer_id").alias("unique_buyers"),
                _buyers_when(F.col("order_date") == F.col("first")).alias("new_buyers"),
                _buyers_when(F.col("order_date") > F.col("first")).alias("returning_buyers"),
            )
        )
        items = fact_order_items.groupBy(F.col("order_date").alias(DAY)).agg(
            F.sum("quantity").alias("items_sold")
        )
        conversion = daily_funnel_metrics.select(
            F.col("session_date").alias(DAY), "sessions", "conversion_rate"
        )
        upstream_orders = _per_day(orders, "order_ts", "upstream_orders")
        upstream_events = _per_day(clickstream, "event_ts", "upstream_events")
        kept_events = _per_day(fact_clickstream, "event_ts", "kept_events")
        days = upstream_orders.select(DAY).unionByName(upstream_events.select(DAY)).distinct()
        parts = (sales, items, conversion, upstream_orders, upstream_events, kept_events)
        day = reduce(lambda left, right: left.join(right, DAY, "left"), parts, days)
        counted = {name: F.coalesce(name, F.lit(0)) for name in (*SALES, *UPSTREAM, "kept_events")}
        return day.select(
            DAY,
            counted["orders"].alias("orders"),
            F.coalesce("revenue_usd", F.lit(0).cast(USD_SUM)).alias("revenue_usd"),
            "average_order_value_usd",
            *(counted[name].alias(name) for name in SALES[1:]),
            "conversion_rate",
            counted["upstream_orders"].alias("upstream_orders"),
            (counted["upstream_orders"] - counted["orders"]).alias("quarantined_orders"),
            counted["upstream_events"].alias("upstream_events"),
            (counted["upstream_events"] - counted["kept_events"]).alias("quarantined_events"),
        ).select("*", *(rate(part, whole).alias(name) for name, (part, whole) in SHARES.items()))


def _buyers_when(condition: Column) -> Column:
    return F.count_distinct(F.when(condition, F.col("buyer_id")))


def _per_day(rows: DataFrame, timestamp: str, name: str) -> DataFrame:
    """How many of `rows` fall on each UTC date of `timestamp`."""
    dated = rows.where(F.col(timestamp).isNotNull())
    return dated.groupBy(F.to_date(timestamp).alias(DAY)).agg(F.count(F.lit(1)).alias(name))
