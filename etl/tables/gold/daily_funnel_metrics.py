"""Daily funnel metrics: sessions per day through view, add to cart, checkout and purchase."""

from __future__ import annotations

from itertools import pairwise

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from etl.core import Table, TableSpec, between

SESSION_GAP = "30 minutes"
"""Without an upstream session id, a user's events further apart than this start a new
session (the usual web-analytics definition)."""
STEPS = {
    "viewed_sessions": "view",
    "cart_sessions": "add_to_cart",
    "checkout_sessions": "checkout",
    "purchase_sessions": "purchase",
}
RATES = {
    "view_to_cart_rate": ("cart_sessions", "viewed_sessions"),
    "cart_to_checkout_rate": ("checkout_sessions", "cart_sessions"),
    "checkout_to_purchase_rate": ("purchase_sessions", "checkout_sessions"),
    "conversion_rate": ("purchase_sessions", "sessions"),
    "cart_abandonment_rate": ("abandoned_carts", "cart_sessions"),
}
RATE = "decimal(5,4)"
COUNT = "decimal(12,0)"
"""Counts as exact decimals, so that rates are divided and rounded as Postgres does."""


class DailyFunnelMetrics(Table):
    """One row per day: the sessions that started that day and how far down the funnel they
    got.

    A session is the upstream `session_id`; events without one are grouped per user, a new
    session starting after 30 minutes without an event. A session belongs to the UTC date of
    its first event, also when it runs past midnight. It reached a step when it holds an event
    of that step and of every step before it (`view`, `add_to_cart`, `checkout`, `purchase`),
    in any order: a session whose only `view` was quarantined reached no step. Rates are
    exact decimals rounded half up to 4 places, null when their denominator is 0; a cart is
    abandoned when its session reached the cart and not the purchase. Events quarantined in
    `fact_clickstream` (unknown type, in the future, repeated) count nowhere. Rebuilt whole
    on every change: a late event can move a session's first event, and so its day.
    """

    spec = TableSpec(
        name="daily_funnel_metrics",
        grain="one row per day sessions started",
        primary_keys=("session_date",),
        upstream=("fact_clickstream",),
        rules=(
            *(between(rate, 0, 1, severity="fail") for rate in RATES),
            between("sessions", 1, severity="fail", name="sessions_counted"),
        ),
        column_descriptions={
            "session_date": "The UTC date of the session's first event.",
            "sessions": "Sessions that started that day.",
            "viewed_sessions": "Of those, sessions with a `view` event.",
            "cart_sessions": "Sessions with an `add_to_cart` event.",
            "checkout_sessions": "Sessions with a `checkout` event.",
            "purchase_sessions": "Sessions with a `purchase` event.",
            "abandoned_carts": "Sessions that added to cart and did not purchase.",
            "view_to_cart_rate": "`cart_sessions / viewed_sessions`.",
            "cart_to_checkout_rate": "`checkout_sessions / cart_sessions`.",
            "checkout_to_purchase_rate": "`purchase_sessions / checkout_sessions`.",
            "conversion_rate": "`purchase_sessions / sessions`.",
            "cart_abandonment_rate": "`abandoned_carts / cart_sessions`.",
        },
    )

    def transform(self, fact_clickstream: DataFrame) -> DataFrame:
        sessions = (
            _with_sessions(fact_clickstream)
            .groupBy("session")
            .agg(
                F.to_date(F.min("event_ts")).alias("session_date"),
                *(_has(step).alias(name) for name, step in STEPS.items()),
            )
            .where(F.col("session_date").isNotNull())
        )
        # A step counts only after every step before it: the funnel narrows, rates stay <= 1.
        for before, step in pairwise(STEPS):
            sessions = sessions.withColumn(step, F.col(before) & F.col(step))
        daily = sessions.groupBy("session_date").agg(
            F.count(F.lit(1)).alias("sessions"),
            *(F.count_if(F.col(name)).alias(name) for name in STEPS),
            F.count_if(F.col("cart_sessions") & ~F.col("purchase_sessions")).alias(
                "abandoned_carts"
            ),
        )
        return daily.select(
            "*",
            *(_rate(part, whole).alias(name) for name, (part, whole) in RATES.items()),
        )


def _with_sessions(events: DataFrame) -> DataFrame:
    """The events with a `session` key: the upstream session id, or for events without one,
    the user and the number of their gap-separated session (timed events only)."""
    known = events.where(F.col("session_id").isNotNull()).select(
        "event_type", "event_ts", F.concat(F.lit("s"), "session_id").alias("session")
    )
    loose = events.where(F.col("session_id").isNull() & F.col("event_ts").isNotNull())
    in_order = Window.partitionBy("user_id").orderBy("event_ts", "clickstream_id")
    previous = F.lag("event_ts").over(in_order)
    starts = previous.isNull() | (F.col("event_ts") > previous + F.expr(f"INTERVAL {SESSION_GAP}"))
    numbered = loose.withColumn("_starts", starts.cast("int")).withColumn(
        "_number", F.sum("_starts").over(in_order)
    )
    guessed = numbered.select(
        "event_type",
        "event_ts",
        F.concat(F.lit("u"), "user_id", F.lit("-"), "_number").alias("session"),
    )
    return known.unionByName(guessed)


def _has(step: str) -> Column:
    return F.coalesce(F.max(F.col("event_type") == step), F.lit(False))


def _rate(part: str, whole: str) -> Column:
    exact = F.try_divide(F.col(part).cast(COUNT), F.col(whole).cast(COUNT))
    return F.round(exact, 4).cast(RATE)
