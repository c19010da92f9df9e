"""Customer segments: per buyer, what they bought, their RFM scores, segment and value tier."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from etl.core import Table, TableSpec, between, in_set
from etl.tables.gold._customers import VALUE_TIERS
from etl.tables.gold._money import USD_SUM, mean_usd

SEGMENTS = (
    ("champions", "recency_score >= 4 AND frequency_score >= 4"),
    ("at_risk", "recency_score <= 2 AND frequency_score >= 4"),
    ("loyal", "frequency_score >= 4"),
    ("promising", "recency_score >= 4"),
    ("hibernating", "recency_score <= 2"),
    ("needs_attention", "true"),
)
"""Named segments from the RFM scores, the first that matches wins."""
SCORES = {
    "recency_score": ("recency_days", "desc"),
    "frequency_score": ("order_count", "asc"),
    "monetary_score": ("total_spent_usd", "asc"),
}
"""Each score's column and order, worst first: a stale buyer, a rare one, a small spender
score 1."""


class CustomerSegments(Table):
    """One row per buyer with at least one order kept in `fact_orders` (and a date).

    Recency is the days from the buyer's last order to the latest date of any buyer's order,
    so the table depends on the data alone. Each RFM score is the buyer's quintile among
    all buyers: `1 + 5 * (rank - 1) div buyers`, the rank in the score's order with ties
    sharing the lowest rank, so buyers with equal values score the same. Segments: the first
    of `SEGMENTS` their scores match; value tier: by lifetime value, `high` from 5,000 USD,
    `medium` from 1,000 USD, else `low` (`VALUE_TIERS`). Lifetime value is historical: the revenue
    (`quantity * base_price`, before tax) of the buyer's kept items, while `total_spent_usd`
    sums the order totals, tax included.
    """

    spec = TableSpec(
        name="customer_segments",
        grain="one row per buyer who ordered",
        primary_keys=("buyer_id",),
        upstream=("fact_orders", "fact_order_items"),
        rules=(
            *(between(score, 1, 5, severity="fail") for score in SCORES),
            in_set("rfm_segment", [name for name, _ in SEGMENTS], severity="fail"),
            between("order_count", 1, severity="fail", name="buyers_ordered"),
            between("recency_days", 0, severity="fail", name="recency_not_negative"),
        ),
        column_descriptions={
            "buyer_id": "The buyer.",
            "total_spent_usd": "The exact sum of the buyer's order totals (tax included).",
            "order_count": "Orders the buyer placed.",
            "average_order_value_usd": "The mean order total, half up to the cent.",
            "first_order_date": "The UTC date of the buyer's first order.",
            "last_order_date": "The UTC date of the buyer's latest order.",
            "distinct_products": "Different products in the buyer's orders.",
            "lifetime_value_usd": "Historical: revenue of the buyer's items, before tax.",
            "recency_days": "Days from the last order to the latest order date in the data.",
            "recency_score": "1-5, the buyer's quintile by recency (5: most recent).",
            "frequency_score": "1-5, the quintile by order count (5: most orders).",
            "monetary_score": "1-5, the quintile by total spent (5: most spent).",
            "rfm_segment": "The named segment: " + ", ".join(name for name, _ in SEGMENTS) + ".",
            "value_tier": "By lifetime value: "
            + ", ".join(f"`{tier}` from {least:,} USD" for tier, least in VALUE_TIERS)
            + ", else `low`.",
        },
    )

    def transform(self, fact_orders: DataFrame, fact_order_items: DataFrame) -> DataFrame:
        orders = fact_orders.where(
            F.col("buyer_id").isNotNull() & F.col("order_date").isNotNull()
        ).select("order_id", "buyer_id", "order_date", "total_price_usd")
        bought = (
            fact_order_items.join(orders, "order_id")
            .groupBy("buyer_id")
            .agg(
                F.count_distinct("product_id").alias("distinct_products"),
                F.sum("revenue_usd").alias("lifetime_value_usd"),
            )
        )
        buyers = (
            orders.groupBy("buyer_id")
            .agg(
                F.sum("total_price_usd").alias("total_spent_usd"),
                F.count("order_id").alias("order_count"),
                mean_usd("total_price_usd").alias("average_order_value_usd"),
                F.min("order_date").alias("first_order_date"),
                F.max("order_date").alias("last_order_date"),
            )
            .join(bought, "buyer_id", "left")
            .withColumn(
                "recency_days",
                F.date_diff(F.max("last_order_date").over(Window.partitionBy()), "last_order_date"),
            )
        )
        scored = buyers.select(
            "buyer_id",
            "total_spent_usd",
            "order_count",
            "average_order_value_usd",
            "first_order_date",
            "last_order_date",
            F.coalesce("distinct_products", F.lit(0)).alias("distinct_products"),
            F.coalesce("lifetime_value_usd", F.lit(0).cast(USD_SUM)).alias("lifetime_value_usd"),
            "recency_days",
            *(_quintile(*order).alias(score) for score, order in SCORES.items()),
        )
        return scored.select("*", _segment().alias("rfm_segment"), _tier().alias("value_tier"))


def _quintile(column: str, direction: str) -> Column:
    """The quintile 1-5 of each row's rank by `column` among all rows, ties ranked lowest;
    the division is exact, as `5 * (rank - 1)` and the count are integers far below 2^53."""
    order = F.col(column).desc() if direction == "desc" else F.col(column).asc()
    rank = F.rank().over(Window.orderBy(order))
    buyers = F.count(F.lit(1)).over(Window.partitionBy())
    return (F.lit(1) + F.floor(F.lit(5) * (rank - 1) / buyers)).cast("int")


def _segment() -> Column:
    named = F.when(F.expr(SEGMENTS[0][1]), F.lit(SEGMENTS[0][0]))
    for name, condition in SEGMENTS[1:]:
        named = named.when(F.expr(condition), F.lit(name))
    return named


def _tier() -> Column:
    tier = F.when(F.col("lifetime_value_usd") >= VALUE_TIERS[0][1], F.lit(VALUE_TIERS[0][0]))
    for name, least in VALUE_TIERS[1:]:
        tier = tier.when(F.col("lifetime_value_usd") >= least, F.lit(name))
    return tier.otherwise(F.lit("low"))
