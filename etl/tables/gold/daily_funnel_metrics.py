"""Daily funnel metrics: sessions per day through view, add to cart, checkout and purchase."""

from __future__ import annotations

from pyspark.sql import DataFrame

from etl.core import Table, TableSpec, between
from etl.tables.gold._funnel import (
    COLUMN_DESCRIPTIONS,
    RATES,
    funnel,
    session_starts,
    with_sessions,
)


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
            **COLUMN_DESCRIPTIONS,
            "sessions": "Sessions that started that day.",
        },
    )

    def transform(self, fact_clickstream: DataFrame) -> DataFrame:
        return funnel(session_starts(with_sessions(fact_clickstream)), "session_date")
