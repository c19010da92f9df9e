"""daily_funnel_metrics: sessions per day and how far down the funnel they got."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from itertools import count

import pytest
from pyspark.sql import SparkSession

from etl.tables.gold.daily_funnel_metrics import DailyFunnelMetrics
from tests.unit.tables.frames import NO_CONTEXT, collect, silver, ts, types

pytestmark = pytest.mark.spark

IDS = count(1)


def event(session: int | None, user: int, kind: str | None, at: datetime | None) -> tuple:
    return (next(IDS), session, user, kind, 7, None, at, at.date() if at else None)


def funnel(spark: SparkSession, *events: tuple) -> list[dict[str, object]]:
    clicks = silver(spark, "fact_clickstream", list(events))
    out = DailyFunnelMetrics(NO_CONTEXT).transform(fact_clickstream=clicks)
    return collect(out, "session_date")


def test_each_step_counts_the_sessions_that_reached_it(spark: SparkSession) -> None:
    rows = funnel(
        spark,
        # session 1 buys; 2 abandons its cart; 3 only looks; 4 checks out without buying
        *(
            event(1, 10, kind, ts(1, 9, n))
            for n, kind in enumerate(("view", "add_to_cart", "checkout", "purchase"))
        ),
        event(2, 11, "view", ts(1, 10)),
        event(2, 11, "add_to_cart", ts(1, 10, 5)),
        event(3, 12, "view", ts(1, 11)),
        event(4, 13, "view", ts(1, 12)),
        event(4, 13, "add_to_cart", ts(1, 12, 1)),
        event(4, 13, "checkout", ts(1, 12, 2)),
    )

    assert len(rows) == 1
    day = rows[0]
    assert (day["sessions"], day["viewed_sessions"], day["cart_sessions"]) == (4, 4, 3)
    assert (day["checkout_sessions"], day["purchase_sessions"], day["abandoned_carts"]) == (2, 1, 2)
    assert day["view_to_cart_rate"] == Decimal("0.7500")
    assert day["cart_to_checkout_rate"] == Decimal("0.6667"), "2/3, half up"
    assert day["checkout_to_purchase_rate"] == Decimal("0.5000")
    assert day["conversion_rate"] == Decimal("0.2500")
    assert day["cart_abandonment_rate"] == Decimal("0.6667")


def test_a_session_counts_on_the_day_it_started_even_past_midnight(spark: SparkSession) -> None:
    rows = funnel(
        spark,
        event(1, 10, "view", ts(1, 23, 50)),
        event(1, 10, "add_to_cart", ts(2, 0, 10)),
        event(1, 10, "checkout", ts(2, 0, 15)),
        event(1, 10, "purchase", ts(2, 0, 20)),
        event(2, 11, "view", ts(2, 8)),
    )

    assert [(r["session_date"].day, r["sessions"], r["purchase_sessions"]) for r in rows] == [
        (1, 1, 1),
        (2, 1, 0),
    ]


def test_without_a_session_id_thirty_idle_minutes_start_a_new_session(
    spark: SparkSession,
) -> None:
    rows = funnel(
        spark,
        event(None, 10, "view", ts(1, 9)),
        event(None, 10, "add_to_cart", ts(1, 9, 30)),  # 30 minutes later: the same session
        event(None, 10, "view", ts(1, 10, 1)),  # 31 minutes later: a new one
        event(None, 11, "view", ts(1, 9, 10)),  # another user, another session
        event(None, 11, "view", None),  # no time and no session: in none
    )

    assert rows[0]["sessions"] == 3
    assert rows[0]["cart_sessions"] == 1


def test_a_step_counts_only_after_every_step_before_it(spark: SparkSession) -> None:
    rows = funnel(
        spark,
        event(1, 10, "add_to_cart", ts(4, 9)),  # its view was quarantined upstream
        event(1, 10, "purchase", ts(4, 9, 5)),
        event(2, 11, "view", ts(4, 10)),
        event(2, 11, "checkout", ts(4, 10, 5)),  # no cart: checked out, not counted so
    )

    day = rows[0]
    assert (day["sessions"], day["viewed_sessions"], day["cart_sessions"]) == (2, 1, 0)
    assert (day["checkout_sessions"], day["purchase_sessions"]) == (0, 0)


def test_a_day_without_carts_has_rates_without_a_denominator_left_null(
    spark: SparkSession,
) -> None:
    rows = funnel(spark, event(1, 10, "view", ts(3, 9)), event(2, 11, None, ts(3, 9)))

    day = rows[0]
    assert (day["sessions"], day["viewed_sessions"], day["cart_sessions"]) == (2, 1, 0)
    assert day["view_to_cart_rate"] == Decimal("0.0000")
    assert day["cart_to_checkout_rate"] is None
    assert day["cart_abandonment_rate"] is None
    assert day["conversion_rate"] == Decimal("0.0000")


def test_types(spark: SparkSession) -> None:
    clicks = silver(spark, "fact_clickstream", [event(1, 10, "view", ts(1))])
    out = DailyFunnelMetrics(NO_CONTEXT).transform(fact_clickstream=clicks)

    assert types(out) == {
        "session_date": "date",
        "sessions": "bigint",
        "viewed_sessions": "bigint",
        "cart_sessions": "bigint",
        "checkout_sessions": "bigint",
        "purchase_sessions": "bigint",
        "abandoned_carts": "bigint",
        "view_to_cart_rate": "decimal(5,4)",
        "cart_to_checkout_rate": "decimal(5,4)",
        "checkout_to_purchase_rate": "decimal(5,4)",
        "conversion_rate": "decimal(5,4)",
        "cart_abandonment_rate": "decimal(5,4)",
    }
