"""The funnel shared by the daily and the per-category funnel tables: what a session is, when
it reached a step, and how the steps and rates are counted."""

from __future__ import annotations

from itertools import pairwise

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

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
COLUMN_DESCRIPTIONS = {
    "session_date": "The UTC date of the session's first event.",
    "viewed_sessions": "Of those, sessions with a `view` event.",
    "cart_sessions": "Sessions with a `view` and an `add_to_cart` event.",
    "checkout_sessions": "Sessions that also hold a `checkout` event.",
    "purchase_sessions": "Sessions that also hold a `purchase` event.",
    "abandoned_carts": "Sessions that added to cart and did not purchase.",
    "view_to_cart_rate": "`cart_sessions / viewed_sessions`.",
    "cart_to_checkout_rate": "`checkout_sessions / cart_sessions`.",
    "checkout_to_purchase_rate": "`purchase_sessions / checkout_sessions`.",
    "conversion_rate": "`purchase_sessions / sessions`.",
    "cart_abandonment_rate": "`abandoned_carts / cart_sessions`.",
}


def with_sessions(events: DataFrame) -> DataFrame:
    """The events with a `session` key: the upstream session id, or for events without one,
    the user and the number of their gap-separated session (timed events only)."""
    kept = ("event_type", "event_ts", "product_id")
    known = events.where(F.col("session_id").isNotNull()).select(
        *kept, F.concat(F.lit("s"), "session_id").alias("session")
    )
    loose = events.where(F.col("session_id").isNull() & F.col("event_ts").isNotNull())
    in_order = Window.partitionBy("user_id").orderBy("event_ts", "clickstream_id")
    previous = F.lag("event_ts").over(in_order)
    starts = previous.isNull() | (F.col("event_ts") > previous + F.expr(f"INTERVAL {SESSION_GAP}"))
    numbered = loose.withColumn("_starts", starts.cast("int")).withColumn(
        "_number", F.sum("_starts").over(in_order)
    )
    guessed = numbered.select(
        *kept, F.concat(F.lit("u"), "user_id", F.lit("-"), "_number").alias("session")
    )
    return known.unionByName(guessed)


def session_starts(sessions: DataFrame) -> DataFrame:
    """Per session, the UTC date of its first event and whether it holds each step's event;
    sessions without a timed event are left out."""
    return (
        sessions.groupBy("session")
        .agg(
            F.to_date(F.min("event_ts")).alias("session_date"),
            *(has(step).alias(name) for name, step in STEPS.items()),
        )
        .where(F.col("session_date").isNotNull())
    )


def has(step: str) -> Column:
    """Whether the group holds an event of type `step`."""
    return F.coalesce(F.max(F.col("event_type") == step), F.lit(False))


def funnel(reached: DataFrame, *by: str) -> DataFrame:
    """Per group of `by`, the rows of `reached` (one per session, a flag per step) counted
    down the funnel, with the rates between steps.

    A step counts only after every step before it, so the funnel narrows and rates stay
    within 0 and 1."""
    for before, step in pairwise(STEPS):
        reached = reached.withColumn(step, F.col(before) & F.col(step))
    counted = reached.groupBy(*by).agg(
        F.count(F.lit(1)).alias("sessions"),
        *(F.count_if(F.col(name)).alias(name) for name in STEPS),
        F.count_if(F.col("cart_sessions") & ~F.col("purchase_sessions")).alias("abandoned_carts"),
    )
    return counted.select(
        "*", *(rate(part, whole).alias(name) for name, (part, whole) in RATES.items())
    )


def rate(part: str, whole: str, *, of_type: str = RATE) -> Column:
    """`part / whole` exactly, rounded half up to 4 places; null when `whole` is 0. A ratio
    that may pass 1 (not a share) needs a wider `of_type` than `RATE`, which holds 9.9999 at
    most."""
    exact = F.try_divide(F.col(part).cast(COUNT), F.col(whole).cast(COUNT))
    return F.round(exact, 4).cast(of_type)
