"""customer_segments: per buyer, their orders, RFM scores, segment and value tier."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from itertools import count

import pytest
from pyspark.sql import DataFrame, SparkSession

from etl.tables.gold.customer_segments import CustomerSegments
from tests.unit.tables.frames import NO_CONTEXT, collect, silver, ts, types

pytestmark = pytest.mark.spark

Row = tuple[object, ...]
IDS = count(1)


def order(order_id: int, buyer: int | None, day: int | None, total: str) -> Row:
    at = None if day is None else ts(day, 12)
    on = None if day is None else date(2024, 3, day)
    return (order_id, buyer, at, on, Decimal(total), ts(1), ts(1))


def item(order_id: int, product: int, quantity: int, price: str, tax: str = "0.00") -> Row:
    """An item whose revenue is `quantity * price`, before `tax`."""
    revenue = quantity * Decimal(price)
    return (
        next(IDS), order_id, product, 7, quantity, Decimal(price), Decimal(tax), revenue,
        ts(1, 12), date(2024, 3, 1), ts(1, 12),
    )  # fmt: skip


def transform(spark: SparkSession, orders: Sequence[Row], items: Sequence[Row] = ()) -> DataFrame:
    return CustomerSegments(NO_CONTEXT).transform(
        fact_orders=silver(spark, "fact_orders", orders),
        fact_order_items=silver(spark, "fact_order_items", items),
    )


def buyers(out: DataFrame, *columns: str) -> dict[object, tuple[object, ...]]:
    return {row["buyer_id"]: tuple(row[c] for c in columns) for row in collect(out, "buyer_id")}


def test_a_buyer_with_one_order(spark: SparkSession) -> None:
    out = transform(
        spark,
        [order(1, 10, 5, "23.65")],
        [
            item(1, 500, 2, "10.00", tax="2.00"),
            item(1, 501, 1, "1.00", tax="0.10"),
            item(1, 500, 1, "0.50", tax="0.05"),  # the same product again
        ],
    )

    assert collect(out, "buyer_id") == [
        {
            "buyer_id": 10,
            "total_spent_usd": Decimal("23.65"),
            "order_count": 1,
            "average_order_value_usd": Decimal("23.65"),
            "first_order_date": date(2024, 3, 5),
            "last_order_date": date(2024, 3, 5),
            "distinct_products": 2,
            "lifetime_value_usd": Decimal("21.50"),  # before tax
            "recency_days": 0,
            "recency_score": 1,  # the only buyer is in the first quintile of each
            "frequency_score": 1,
            "monetary_score": 1,
            "rfm_segment": "hibernating",
            "value_tier": "low",
        }
    ]


def test_recency_counts_days_to_the_latest_order_date_of_any_buyer(spark: SparkSession) -> None:
    out = transform(
        spark,
        [order(1, 10, 1, "10.00"), order(2, 10, 3, "10.05"), order(3, 11, 9, "1.00")],
    )

    assert buyers(
        out, "first_order_date", "last_order_date", "recency_days", "average_order_value_usd"
    ) == {
        10: (date(2024, 3, 1), date(2024, 3, 3), 6, Decimal("10.03")),  # 10.025, half up
        11: (date(2024, 3, 9), date(2024, 3, 9), 0, Decimal("1.00")),
    }


def test_five_buyers_with_distinct_values_score_one_to_five(spark: SparkSession) -> None:
    """Buyer b orders b times, last on day 6 - b; the first order carries all they spent."""
    spent = {1: "30.00", 2: "50.00", 3: "10.00", 4: "40.00", 5: "20.00"}
    orders = [
        order(next(IDS), b, 6 - b, spent[b] if n == 0 else "0.00") for b in spent for n in range(b)
    ]

    out = transform(spark, orders)

    assert buyers(out, "recency_score", "frequency_score", "monetary_score") == {
        1: (5, 1, 3),
        2: (4, 2, 5),
        3: (3, 3, 1),
        4: (2, 4, 4),
        5: (1, 5, 2),
    }


def test_tied_buyers_score_the_quintile_of_their_lowest_rank(spark: SparkSession) -> None:
    """Ranks 1, 2, 2, 4 of 4 buyers: 1 + 5 * (rank - 1) div 4 = 1, 2, 2, 4."""
    out = transform(
        spark,
        [
            order(1, 10, 1, "10.00"),
            order(2, 11, 1, "20.00"),
            order(3, 12, 1, "20.00"),
            order(4, 13, 1, "30.00"),
        ],
    )

    assert buyers(out, "recency_score", "frequency_score", "monetary_score") == {
        10: (1, 1, 1),  # all tied on recency and frequency: all rank 1
        11: (1, 1, 2),
        12: (1, 1, 2),
        13: (1, 1, 4),
    }


def test_each_buyer_gets_the_first_segment_their_scores_match(spark: SparkSession) -> None:
    """Ten buyers, each last ordering on a different day and ordering a different number of
    times: scores are 1 + (rank - 1) div 2, so days and counts 1-2 score 1, ..., 9-10 score 5."""
    last_day_and_orders = {
        1: (10, 10),  # R5 F5: also loyal and promising
        2: (7, 7),  # R4 F4
        3: (3, 9),  # R2 F5: also loyal and hibernating
        4: (5, 8),  # R3 F4
        5: (9, 1),  # R5 F1
        6: (8, 6),  # R4 F3
        7: (6, 5),  # R3 F3
        8: (4, 4),  # R2 F2
        9: (2, 2),  # R1 F1
        10: (1, 3),  # R1 F2
    }
    orders = [
        order(next(IDS), buyer, day, "1.00")
        for buyer, (day, times) in last_day_and_orders.items()
        for _ in range(times)
    ]

    out = transform(spark, orders)

    assert buyers(out, "rfm_segment") == {
        1: ("champions",),
        2: ("champions",),
        3: ("at_risk",),
        4: ("loyal",),
        5: ("promising",),
        6: ("promising",),
        7: ("needs_attention",),
        8: ("hibernating",),
        9: ("hibernating",),
        10: ("hibernating",),
    }


def test_value_tiers_start_at_exactly_5000_and_1000_of_lifetime_value(
    spark: SparkSession,
) -> None:
    """The tax lifts every total over the next threshold; the tier must not follow it."""
    prices = {1: "5000.00", 2: "4999.99", 3: "1000.00", 4: "999.99"}
    orders = [order(b, b, 1, str(Decimal(price) + 100)) for b, price in prices.items()]
    items = [item(b, 500, 1, price, tax="100.00") for b, price in prices.items()]

    out = transform(spark, orders, items)

    assert buyers(out, "lifetime_value_usd", "value_tier") == {
        1: (Decimal("5000.00"), "high"),
        2: (Decimal("4999.99"), "medium"),
        3: (Decimal("1000.00"), "medium"),
        4: (Decimal("999.99"), "low"),
    }


def test_lifetime_value_sums_the_item_revenue_of_all_the_buyers_orders(
    spark: SparkSession,
) -> None:
    out = transform(
        spark,
        [order(1, 10, 1, "11.00"), order(2, 10, 2, "8.00"), order(3, 11, 2, "7.00")],
        [
            item(1, 500, 2, "5.00", tax="1.00"),
            item(2, 500, 1, "5.00", tax="0.50"),
            item(2, 501, 1, "2.50"),
        ],  # order 3 has no items (left out upstream)
    )

    assert buyers(out, "total_spent_usd", "lifetime_value_usd", "distinct_products") == {
        10: (Decimal("19.00"), Decimal("17.50"), 2),
        11: (Decimal("7.00"), Decimal("0.00"), 0),
    }


def test_orders_without_a_buyer_or_a_date_are_left_out(spark: SparkSession) -> None:
    out = transform(
        spark,
        [
            order(1, None, 2, "5.00"),
            order(2, 12, None, "5.00"),
            order(3, 13, 3, "7.00"),
            order(4, 13, None, "9.00"),
        ],
        [item(3, 500, 1, "7.00"), item(4, 501, 1, "9.00"), item(2, 502, 1, "5.00")],
    )

    assert buyers(
        out, "order_count", "total_spent_usd", "lifetime_value_usd", "distinct_products"
    ) == {13: (1, Decimal("7.00"), Decimal("7.00"), 1)}


def test_types(spark: SparkSession) -> None:
    out = transform(spark, [order(1, 10, 1, "1.00")], [item(1, 500, 1, "1.00")])

    assert types(out) == {
        "buyer_id": "bigint",
        "total_spent_usd": "decimal(22,2)",
        "order_count": "bigint",
        "average_order_value_usd": "decimal(12,2)",
        "first_order_date": "date",
        "last_order_date": "date",
        "distinct_products": "bigint",
        "lifetime_value_usd": "decimal(22,2)",
        "recency_days": "int",
        "recency_score": "int",
        "frequency_score": "int",
        "monetary_score": "int",
        "rfm_segment": "string",
        "value_tier": "string",
    }
