"""Per-user daily features for models, point-in-time correct."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from etl.core import Table, TableSpec, between
from etl.tables.gold._categories import named_categories
from etl.tables.gold._customers import HIGH_VALUE
from etl.tables.gold._funnel import rate
from etl.tables.gold._money import USD_SUM

WINDOWS = (7, 30)
"""The trailing windows, in days before the feature date."""
COUNTED = {"views": "view", "cart_adds": "add_to_cart", "checkouts": "checkout"}
"""Daily event counts by event type."""
WINDOWED = {"views": "bigint", "cart_adds": "bigint", "orders": "bigint", "revenue_usd": USD_SUM}
"""The daily sums each window adds up, and the type of their total."""
ABANDONED_WITHIN = 7
"""A cart counts as abandoned when added in this many days before the feature date."""
DAY_NUMBER = "_day"
RANK = "_category_rank"
RATIO = "decimal(12,4)"
"""The 30-day rates: counts of different events, so a ratio may pass 1."""


class UserDailyFeatures(Table):
    """One row per user and day they were active (a kept clickstream event or a kept order
    that UTC day), with features computed only from what happened before that day.

    The row for day D is what a model scoring the user at the start of D may know: every
    window ends the day before D (`views_7d` counts views on D-7 to D-1), and nothing of D
    itself or later enters it, so a row never changes when later events arrive (late events
    dated before D do change it: they happened before D). Orders reach users through their
    buyer. Revenue is item revenue before tax, as in `customer_segments`. Rates are exact,
    half up to 4 places, null without a denominator; a cart added without a kept view can
    push `view_to_cart_rate_30d` past 1, which the rule reports as a warning. A cart is
    abandoned when added on a day of the last 7 later than the day of the last order (the
    same day counts as bought). `is_high_value`: lifetime revenue before D of at least the
    `high` tier of `customer_segments` (5,000 USD). The favourite category is the one whose
    products the user viewed most in the last 30 days, ties to the first name.
    """

    spec = TableSpec(
        name="user_daily_features",
        grain="one row per user and day they were active",
        primary_keys=("user_id", "feature_date"),
        upstream=(
            "fact_clickstream",
            "fact_orders",
            "fact_order_items",
            "dim_buyer",
            "product_x_category",
            "dim_category",
        ),
        partition_by=("feature_date",),
        rules=(
            between("days_since_last_order", 1, severity="fail", name="no_feature_from_the_future"),
            between("view_to_cart_rate_30d", 0, 1, severity="warn"),
            between("cart_to_checkout_rate_30d", 0, 1, severity="warn"),
            *(
                between(f"{count}_{days}d", 0, severity="fail", name=f"{count}_{days}d_counted")
                for count in ("views", "cart_adds", "orders")
                for days in WINDOWS
            ),
        ),
        column_descriptions={
            "user_id": "The user.",
            "feature_date": "The day the features are for; they use only days before it.",
            **{
                f"{name}_{days}d": f"{what} on the {days} days before `feature_date`."
                for days in WINDOWS
                for name, what in (
                    ("views", "Product views"),
                    ("cart_adds", "Products added to cart"),
                    ("orders", "Orders placed"),
                    ("revenue_usd", "Item revenue of their orders (before tax)"),
                )
            },
            "view_to_cart_rate_30d": "`cart_adds_30d / views_30d`, 4 places.",
            "cart_to_checkout_rate_30d": "Checkouts over `cart_adds_30d`, 4 places.",
            "days_since_last_order": "Days from the last order before to `feature_date`.",
            "has_abandoned_cart": "Added to cart in the last 7 days after the last order.",
            "is_buyer": "Ordered before `feature_date`.",
            "is_high_value": "Item revenue before `feature_date` of at least 5,000 USD.",
            "favourite_category": "The category viewed most in the last 30 days.",
        },
    )

    def transform(
        self,
        fact_clickstream: DataFrame,
        fact_orders: DataFrame,
        fact_order_items: DataFrame,
        dim_buyer: DataFrame,
        product_x_category: DataFrame,
        dim_category: DataFrame,
    ) -> DataFrame:
        events = fact_clickstream.where(
            F.col("user_id").isNotNull() & F.col("event_date").isNotNull()
        ).withColumnRenamed("event_date", "day")
        clicks = events.groupBy("user_id", "day").agg(
            *(F.count_if(F.col("event_type") == kind).alias(name) for name, kind in COUNTED.items())
        )
        orders = (
            fact_orders.where(F.col("order_date").isNotNull())
            .join(dim_buyer.select("buyer_id", "user_id"), "buyer_id")
            .select("order_id", "user_id", F.col("order_date").alias("day"))
        )
        revenue = fact_order_items.join(orders, "order_id").groupBy("user_id", "day")
        bought = (
            orders.groupBy("user_id", "day")
            .agg(F.count("order_id").alias("orders"))
            .join(
                revenue.agg(F.sum("revenue_usd").alias("revenue_usd")), ["user_id", "day"], "left"
            )
        )
        daily = clicks.join(bought, ["user_id", "day"], "full").select(
            "user_id",
            "day",
            F.unix_date("day").alias(DAY_NUMBER),
            *(F.coalesce(name, F.lit(0)).alias(name) for name in (*COUNTED, "orders")),
            F.coalesce("revenue_usd", F.lit(0).cast(USD_SUM)).alias("revenue_usd"),
        )
        features = daily.select(
            "user_id",
            F.col("day").alias("feature_date"),
            DAY_NUMBER,
            *(
                F.coalesce(F.sum(name).over(_before(days)), F.lit(0))
                .cast(of_type)
                .alias(f"{name}_{days}d")
                for days in WINDOWS
                for name, of_type in WINDOWED.items()
            ),
            F.sum("checkouts").over(_before(30)).alias("_checkouts_30d"),
            F.max(_day_with("orders")).over(_before()).alias("_last_order"),
            F.max(_day_with("cart_adds")).over(_before(ABANDONED_WITHIN)).alias("_last_cart"),
            F.sum("revenue_usd").over(_before()).alias("_lifetime_revenue"),
        )
        return features.join(
            _favourite_categories(events, product_x_category, dim_category, daily),
            ["user_id", DAY_NUMBER],
            "left",
        ).select(
            "user_id",
            "feature_date",
            *(F.col(f"{name}_{days}d") for days in WINDOWS for name in WINDOWED),
            rate("cart_adds_30d", "views_30d", of_type=RATIO).alias("view_to_cart_rate_30d"),
            rate("_checkouts_30d", "cart_adds_30d", of_type=RATIO).alias(
                "cart_to_checkout_rate_30d"
            ),
            (F.col(DAY_NUMBER) - F.col("_last_order")).alias("days_since_last_order"),
            (
                F.col("_last_cart").isNotNull()
                & (F.col("_last_order").isNull() | (F.col("_last_cart") > F.col("_last_order")))
            ).alias("has_abandoned_cart"),
            F.col("_last_order").isNotNull().alias("is_buyer"),
            F.coalesce(F.col("_lifetime_revenue") >= HIGH_VALUE, F.lit(False)).alias(
                "is_high_value"
            ),
            "favourite_category",
        )


def _before(days: int | None = None) -> Window:
    """A user's active days from `days` days before (or ever) to the day before the row's."""
    start = -days if days is not None else Window.unboundedPreceding
    return Window.partitionBy("user_id").orderBy(DAY_NUMBER).rangeBetween(start, -1)


def _day_with(count: str) -> Column:
    return F.when(F.col(count) > 0, F.col(DAY_NUMBER))


def _favourite_categories(
    events: DataFrame,
    product_x_category: DataFrame,
    dim_category: DataFrame,
    active: DataFrame,
) -> DataFrame:
    """Per user and day `active` (as `DAY_NUMBER`), the category with the most views in the
    30 days before.

    Each day's views count on the user's active days among the 30 after it. Those days travel
    as one short list per user, and the views are spread by user once: each pair of a viewing
    day and an active day is then made and summed where the user's views are, with no join or
    sort of views against days. The lists are not marked for broadcast: Spark broadcasts them
    when their measured size is small and joins them by user when a million users make them
    too big to send to every task. A category travels as its rank by name, a number
    cheaper to group by than the name, and the smaller rank wins a tie (the first name)."""
    named = named_categories(product_x_category, dim_category)
    by_name = Window.orderBy("category")
    names = F.broadcast(
        named.select("category").distinct().select("category", F.rank().over(by_name).alias(RANK))
    )
    ranked = F.broadcast(named.join(names, "category").select("product_id", RANK))
    viewed = (
        events.where(F.col("event_type") == "view")
        .join(ranked, "product_id")
        .repartition("user_id")
        .groupBy("user_id", F.unix_date("day").alias("_viewed_day"), RANK)
        .agg(F.count(F.lit(1)).alias("_views"))
    )
    days = active.groupBy("user_id").agg(F.collect_list(DAY_NUMBER).alias("_days"))
    viewed_day = F.col("_viewed_day")
    counted = (
        viewed.join(days, "user_id")
        .select("user_id", RANK, "_views", "_viewed_day", F.explode("_days").alias(DAY_NUMBER))
        .where(F.col(DAY_NUMBER).between(viewed_day + 1, viewed_day + 30))
    )
    totals = counted.groupBy("user_id", DAY_NUMBER, RANK).agg(F.sum("_views").alias("_views"))
    most_viewed_first = F.min(F.struct(-F.col("_views"), F.col(RANK))).alias("_best")
    return (
        totals.groupBy("user_id", DAY_NUMBER)
        .agg(most_viewed_first)
        .select("user_id", DAY_NUMBER, F.col(f"_best.{RANK}").alias(RANK))
        .join(names, RANK)
        .select("user_id", DAY_NUMBER, F.col("category").alias("favourite_category"))
    )
