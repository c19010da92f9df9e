"""daily_business_metrics: a day's sales, buyers, conversion and quarantined shares."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pyspark.sql import DataFrame, SparkSession

from etl.tables.gold.daily_business_metrics import DailyBusinessMetrics
from tests.unit.tables.frames import BRONZE, NO_CONTEXT, collect, silver, ts, types

pytestmark = pytest.mark.spark

Order = tuple[int, int, datetime, str]
"""An order's id, buyer, time and total."""
Row = tuple[object, ...]


def on(day: int) -> date:
    return date(2024, 3, day)


def upstream_order(order_id: int, buyer: int, at: datetime, total: str) -> Row:
    return (order_id, buyer, at, Decimal(total), at, at)


def kept_order(order_id: int, buyer: int, at: datetime, total: str) -> Row:
    return (order_id, buyer, at, at.date(), Decimal(total), at, at)


def kept_item(item_id: int, order_id: int, quantity: int, at: datetime) -> Row:
    price = Decimal("1.00")
    return (item_id, order_id, 500, 7, quantity, price, price, quantity * price, at, at.date(), at)


def upstream_event(event_id: int, at: datetime) -> Row:
    return (event_id, 1, 10, "view", 500, None, at, at, at)


def kept_event(event_id: int, at: datetime) -> Row:
    return (event_id, 1, 10, "view", 500, None, at, at.date())


def transform(
    spark: SparkSession,
    *,
    orders: Sequence[Order] = (),
    quarantined_orders: Sequence[Order] = (),
    items: Sequence[tuple[int, int, datetime]] = (),
    events: Sequence[datetime] = (),
    quarantined_events: Sequence[datetime] = (),
    funnel: Sequence[tuple[date, int, str]] = (),
) -> DataFrame:
    """The table from the orders and events kept in silver and those only upstream; items
    are (order, quantity, time), the funnel's days (day, sessions, conversion)."""
    quarantined = dict(enumerate(quarantined_events, len(events)))
    return DailyBusinessMetrics(NO_CONTEXT).transform(
        fact_orders=silver(spark, "fact_orders", [kept_order(*o) for o in orders]),
        fact_order_items=silver(
            spark, "fact_order_items", [kept_item(n, *i) for n, i in enumerate(items)]
        ),
        fact_clickstream=silver(
            spark, "fact_clickstream", [kept_event(n, at) for n, at in enumerate(events)]
        ),
        daily_funnel_metrics=spark.createDataFrame(
            [(day, sessions, Decimal(rate)) for day, sessions, rate in funnel],
            "session_date DATE, sessions BIGINT, conversion_rate DECIMAL(5,4)",
        ),
        orders=spark.createDataFrame(
            [upstream_order(*o) for o in [*orders, *quarantined_orders]], BRONZE["orders"]
        ),
        clickstream=spark.createDataFrame(
            [upstream_event(n, at) for n, at in [*enumerate(events), *quarantined.items()]],
            BRONZE["clickstream"],
        ),
    )


def days(out: DataFrame, *columns: str) -> dict[object, tuple[object, ...]]:
    return {
        row["business_date"]: tuple(row[c] for c in columns)
        for row in collect(out, "business_date")
    }


def test_revenue_orders_and_average_order_value_rounded_half_up(spark: SparkSession) -> None:
    orders = [
        (1, 10, ts(1, 9), "10.02"),
        (2, 11, ts(1, 10), "10.03"),  # mean 10.025: half up
        (3, 10, ts(2, 9), "10.00"),
        (4, 11, ts(2, 10), "10.00"),
        (5, 12, ts(2, 11), "10.02"),  # mean 10.00666...
    ]

    out = transform(spark, orders=orders)

    assert days(out, "orders", "revenue_usd", "average_order_value_usd") == {
        on(1): (2, Decimal("20.05"), Decimal("10.03")),
        on(2): (3, Decimal("30.02"), Decimal("10.01")),
    }


def test_items_sold_sums_the_quantities_of_the_days_items(spark: SparkSession) -> None:
    out = transform(
        spark,
        orders=[(1, 10, ts(1, 9), "5.00"), (2, 10, ts(2, 9), "4.00")],
        items=[(1, 2, ts(1, 9)), (1, 3, ts(1, 9)), (2, 4, ts(2, 9))],
    )

    assert days(out, "orders", "items_sold") == {on(1): (1, 5), on(2): (1, 4)}


def test_a_buyer_is_new_on_the_day_of_their_first_kept_order_and_returning_after(
    spark: SparkSession,
) -> None:
    out = transform(
        spark,
        orders=[
            (1, 10, ts(1, 9), "1.00"),
            (2, 10, ts(1, 10), "1.00"),  # twice on the 1st: one new buyer
            (3, 10, ts(2, 9), "1.00"),
            (4, 11, ts(2, 10), "1.00"),
            (5, 12, ts(2, 11), "1.00"),
            (6, 10, ts(3, 9), "1.00"),
            (7, 10, ts(3, 10), "1.00"),  # twice on the 3rd: one returning buyer
        ],
        quarantined_orders=[(9, 12, ts(1, 8), "1.00")],  # so 12 is new on the 2nd
    )

    assert days(out, "orders", "unique_buyers", "new_buyers", "returning_buyers") == {
        on(1): (2, 1, 1, 0),
        on(2): (3, 3, 2, 1),
        on(3): (2, 1, 0, 1),
    }


def test_a_day_with_events_and_no_orders_has_no_sales_and_the_funnels_conversion(
    spark: SparkSession,
) -> None:
    out = transform(spark, events=[ts(3, 9)], funnel=[(on(3), 4, "0.2500")])

    (day,) = collect(out, "business_date")
    assert (day["orders"], day["revenue_usd"], day["average_order_value_usd"]) == (
        0,
        Decimal("0.00"),
        None,
    )
    assert (day["items_sold"], day["unique_buyers"], day["new_buyers"]) == (0, 0, 0)
    assert (day["sessions"], day["conversion_rate"]) == (4, Decimal("0.2500"))
    assert (day["upstream_orders"], day["quarantined_order_share"]) == (0, None)


def test_quarantined_shares_are_the_upstream_rows_not_kept_to_four_places(
    spark: SparkSession,
) -> None:
    out = transform(
        spark,
        orders=[(1, 10, ts(1, 1), "1.00"), (2, 10, ts(1, 2), "1.00")],
        quarantined_orders=[(3, 10, ts(1, 3), "1.00")],
        events=[ts(1, hour) for hour in range(1, 7)],
        quarantined_events=[ts(1, 7)],
    )

    shares = ("upstream_orders", "quarantined_orders", "quarantined_order_share")
    shares += ("upstream_events", "quarantined_events", "quarantined_event_share")
    assert days(out, *shares) == {
        on(1): (3, 1, Decimal("0.3333"), 7, 1, Decimal("0.1429"))  # 1/3 and 1/7, half up
    }


def test_a_day_known_only_from_a_quarantined_future_event_has_a_share_of_one(
    spark: SparkSession,
) -> None:
    future = date(2099, 1, 1)
    out = transform(
        spark,
        orders=[(1, 10, ts(1, 9), "1.00")],
        quarantined_events=[datetime(2099, 1, 1, 12, tzinfo=UTC)],
        funnel=[(on(1), 1, "1.0000")],
    )

    assert days(out, "orders", "upstream_events", "quarantined_event_share") == {
        on(1): (1, 0, None),
        future: (0, 1, Decimal("1.0000")),
    }


def test_types(spark: SparkSession) -> None:
    out = transform(spark, orders=[(1, 10, ts(1, 9), "1.00")])

    assert types(out) == {
        "business_date": "date",
        "orders": "bigint",
        "revenue_usd": "decimal(22,2)",
        "average_order_value_usd": "decimal(12,2)",
        "items_sold": "bigint",
        "unique_buyers": "bigint",
        "new_buyers": "bigint",
        "returning_buyers": "bigint",
        "sessions": "bigint",
        "conversion_rate": "decimal(5,4)",
        "upstream_orders": "bigint",
        "quarantined_orders": "bigint",
        "upstream_events": "bigint",
        "quarantined_events": "bigint",
        "quarantined_order_share": "decimal(5,4)",
        "quarantined_event_share": "decimal(5,4)",
    }
