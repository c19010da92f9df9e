"""user_daily_features: per user and active day, what was known at the start of that day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest
from pyspark.sql import DataFrame, SparkSession

from etl.tables.gold.user_daily_features import UserDailyFeatures
from tests.unit.tables.frames import NO_CONTEXT, collect, silver, ts, types

pytestmark = pytest.mark.spark

Row = tuple[object, ...]
Key = tuple[int, date]
IDS = count(1)

D = date(2024, 3, 31)
"""The feature date most tests look at: its 30-day window starts on March 1."""
NO_CATEGORY = 999
"""A product in no category, for views that should not pick a favourite."""


def before(days: int, day: date = D) -> date:
    return day - timedelta(days=days)


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def click(user: int | None, kind: str, day: date, product: int = NO_CATEGORY) -> Row:
    """A kept event at noon UTC of `day`, dated `day` as silver dates it."""
    return (next(IDS), None, user, kind, product, None, noon(day), day)


def clicks(user: int, kind: str, day: date, times: int, product: int = NO_CATEGORY) -> list[Row]:
    return [click(user, kind, day, product) for _ in range(times)]


def order(order_id: int, buyer: int, day: date | None) -> Row:
    at = None if day is None else noon(day)
    return (order_id, buyer, at, day, Decimal("0.00"), ts(1), ts(1))


def item(order_id: int, revenue: str, day: date, tax: str = "0.00") -> Row:
    """An item of `order_id` with `revenue` before `tax`."""
    return (
        next(IDS), order_id, 500, 7, 1, Decimal(revenue), Decimal(tax), Decimal(revenue),
        noon(day), day, noon(day),
    )  # fmt: skip


def buyer(buyer_id: int, user: int) -> Row:
    return (buyer_id, user, f"u{user}", f"u{user}@example.com", "A", "B", "DE", ts(1), ts(1))


def transform(
    spark: SparkSession,
    events: Sequence[Row] = (),
    orders: Sequence[Row] = (),
    items: Sequence[Row] = (),
    buyers: Sequence[Row] = (),
    links: Sequence[Row] = (),
    categories: Sequence[Row] = (),
) -> DataFrame:
    return UserDailyFeatures(NO_CONTEXT).transform(
        fact_clickstream=silver(spark, "fact_clickstream", events),
        fact_orders=silver(spark, "fact_orders", orders),
        fact_order_items=silver(spark, "fact_order_items", items),
        dim_buyer=silver(spark, "dim_buyer", buyers),
        product_x_category=silver(spark, "product_x_category", links),
        dim_category=silver(spark, "dim_category", categories),
    )


def features(spark: SparkSession, **inputs: Sequence[Row]) -> dict[Key, dict[str, object]]:
    """The output rows by user and feature date."""
    rows = collect(transform(spark, **inputs), "user_id", "feature_date")
    return {(row["user_id"], row["feature_date"]): row for row in rows}


def column(rows: dict[Key, dict[str, object]], name: str) -> dict[Key, object]:
    return {key: row[name] for key, row in rows.items()}


def test_there_is_one_row_per_user_and_day_with_a_kept_event_or_an_order(
    spark: SparkSession,
) -> None:
    rows = features(
        spark,
        events=[
            click(1, "view", date(2024, 3, 1)),
            click(1, "view", date(2024, 3, 3)),
            click(1, "add_to_cart", date(2024, 3, 3)),  # two events, one row
            click(3, "purchase", date(2024, 3, 4)),  # any kept event makes the day active
            click(None, "view", date(2024, 3, 5)),  # no user: in no row
        ],
        orders=[
            order(1, 20, date(2024, 3, 2)),  # user 2 only ordered
            order(2, 99, date(2024, 3, 6)),  # a buyer missing from dim_buyer
            order(3, 20, None),  # no order date
        ],
        buyers=[buyer(20, 2)],
    )

    assert sorted(rows) == [
        (1, date(2024, 3, 1)),
        (1, date(2024, 3, 3)),
        (2, date(2024, 3, 2)),
        (3, date(2024, 3, 4)),
    ]


def test_the_first_active_day_knows_nothing(spark: SparkSession) -> None:
    rows = features(
        spark,
        events=[click(1, "view", D), click(1, "add_to_cart", D), click(1, "checkout", D)],
        orders=[order(1, 10, D)],
        items=[item(1, "6000.00", D)],
        buyers=[buyer(10, 1)],
    )

    assert rows == {
        (1, D): {
            "user_id": 1,
            "feature_date": D,
            **{f"{name}_{days}d": 0 for days in (7, 30) for name in ("views", "cart_adds")},
            **{f"orders_{days}d": 0 for days in (7, 30)},
            **{f"revenue_usd_{days}d": Decimal("0.00") for days in (7, 30)},
            "view_to_cart_rate_30d": None,
            "cart_to_checkout_rate_30d": None,
            "days_since_last_order": None,
            "has_abandoned_cart": False,
            "is_buyer": False,
            "is_high_value": False,
            "favourite_category": None,
        }
    }


def test_a_row_counts_nothing_of_its_own_day_or_later(spark: SparkSession) -> None:
    first, second, third = date(2024, 3, 10), date(2024, 3, 12), date(2024, 3, 14)
    rows = features(
        spark,
        events=[
            *clicks(1, "view", first, 2),
            click(1, "add_to_cart", first),
            *clicks(1, "view", second, 3),
            click(1, "view", third),
        ],
        orders=[order(1, 10, first), order(2, 10, second)],
        items=[item(1, "10.00", first), item(2, "20.00", second)],
        buyers=[buyer(10, 1)],
    )

    assert column(rows, "views_7d") == {(1, first): 0, (1, second): 2, (1, third): 5}
    assert column(rows, "cart_adds_7d") == {(1, first): 0, (1, second): 1, (1, third): 1}
    assert column(rows, "orders_7d") == {(1, first): 0, (1, second): 1, (1, third): 2}
    assert column(rows, "revenue_usd_30d") == {
        (1, first): Decimal("0.00"),
        (1, second): Decimal("10.00"),
        (1, third): Decimal("30.00"),
    }


def test_the_windows_hold_the_7_and_the_30_days_before(spark: SparkSession) -> None:
    # 1, 2, 4 and 8 views, so that every sum tells which days went into it
    events = [
        *clicks(1, "view", before(7), 1),
        *clicks(1, "view", before(8), 2),
        *clicks(1, "view", before(30), 4),
        *clicks(1, "view", before(31), 8),
        *clicks(1, "add_to_cart", before(7), 1),
        *clicks(1, "add_to_cart", before(8), 2),
        *clicks(1, "add_to_cart", before(30), 4),
        *clicks(1, "add_to_cart", before(31), 8),
        click(1, "view", D),
    ]

    row = features(spark, events=events)[(1, D)]

    assert (row["views_7d"], row["views_30d"]) == (1, 7)
    assert (row["cart_adds_7d"], row["cart_adds_30d"]) == (1, 7)


def test_orders_reach_users_through_their_buyer_with_item_revenue_before_tax(
    spark: SparkSession,
) -> None:
    rows = features(
        spark,
        events=[click(2, "view", D), click(3, "view", D)],
        orders=[
            order(1, 20, before(7)),
            order(2, 20, before(8)),
            order(3, 20, before(30)),
            order(4, 20, before(31)),
            order(5, 20, before(1)),  # no items: an order without revenue
            order(6, 30, before(2)),
        ],
        items=[
            item(1, "1.00", before(7), tax="0.19"),
            item(1, "0.50", before(7), tax="0.10"),
            item(2, "2.00", before(8)),
            item(3, "4.00", before(30)),
            item(4, "8.00", before(31)),
            item(6, "100.00", before(2)),
        ],
        buyers=[buyer(20, 2), buyer(30, 3)],
    )

    two, three = rows[(2, D)], rows[(3, D)]
    assert (two["orders_7d"], two["orders_30d"]) == (2, 4)
    assert (two["revenue_usd_7d"], two["revenue_usd_30d"]) == (Decimal("1.50"), Decimal("7.50"))
    assert (three["orders_7d"], three["revenue_usd_7d"]) == (1, Decimal("100.00"))


def test_days_since_last_order_counts_from_the_last_order_before_the_day(
    spark: SparkSession,
) -> None:
    days = [date(2024, 3, d) for d in (1, 3, 10, 12, 20)]
    rows = features(
        spark,
        events=[click(1, "view", day) for day in (days[0], days[2], days[4])],
        orders=[order(1, 10, days[1]), order(2, 10, days[3]), order(3, 10, days[3])],
        buyers=[buyer(10, 1)],
    )

    assert column(rows, "days_since_last_order") == {
        (1, days[0]): None,  # never ordered
        (1, days[1]): None,  # the day's own order is not before it
        (1, days[2]): 7,
        (1, days[3]): 9,
        (1, days[4]): 8,
    }
    assert column(rows, "is_buyer") == {
        (1, days[0]): False,
        (1, days[1]): False,
        (1, days[2]): True,
        (1, days[3]): True,
        (1, days[4]): True,
    }


def test_high_value_takes_at_least_5000_usd_of_lifetime_revenue_before_the_day(
    spark: SparkSession,
) -> None:
    long_ago, earlier = date(2024, 1, 15), date(2024, 3, 2)
    rows = features(
        spark,
        events=[click(user, "view", D) for user in (1, 2)],
        orders=[
            order(1, 10, long_ago),  # months before: still lifetime revenue
            order(2, 10, earlier),
            order(3, 20, long_ago),
            order(4, 30, D),  # on the day itself: not before it
        ],
        items=[
            item(1, "3000.00", long_ago),
            item(2, "1999.00", earlier),
            item(2, "1.00", earlier, tax="950.00"),
            item(3, "4999.99", long_ago, tax="950.00"),
            item(4, "5000.00", D),
        ],
        buyers=[buyer(10, 1), buyer(20, 2), buyer(30, 3)],
    )

    assert column(rows, "is_high_value") == {
        (1, long_ago): False,
        (1, earlier): False,  # 3,000 before it
        (1, D): True,  # exactly 5,000.00
        (2, long_ago): False,
        (2, D): False,  # 4,999.99, however much tax on top
        (3, D): False,
    }


def test_a_cart_is_abandoned_when_added_in_the_last_7_days_after_the_last_order(
    spark: SparkSession,
) -> None:
    rows = features(
        spark,
        events=[
            *(click(user, "view", D) for user in range(1, 8)),
            click(1, "add_to_cart", before(5)),  # after the order on D-10
            click(2, "add_to_cart", before(5)),  # bought the same day
            click(3, "add_to_cart", before(8)),  # too long ago
            click(4, "add_to_cart", before(7)),  # just in time, never bought
            click(5, "add_to_cart", before(5)),  # bought two days later
            click(6, "add_to_cart", D),  # today's cart is not known yet
            click(7, "add_to_cart", before(5)),
            click(7, "add_to_cart", before(2)),  # carted again after buying
        ],
        orders=[
            order(1, 10, before(10)),
            order(2, 20, before(5)),
            order(5, 50, before(3)),
            order(7, 70, before(3)),
        ],
        buyers=[buyer(10, 1), buyer(20, 2), buyer(50, 5), buyer(70, 7)],
    )

    assert {user: rows[(user, D)]["has_abandoned_cart"] for user in range(1, 8)} == {
        1: True,
        2: False,
        3: False,
        4: True,
        5: False,
        6: False,
        7: True,
    }


def test_rates_divide_the_30_day_counts_half_up_to_4_places(spark: SparkSession) -> None:
    start = before(30)
    rows = features(
        spark,
        events=[
            *(click(user, "view", D) for user in range(1, 6)),
            # 1 / 32 = 0.03125: half up, not to even
            *clicks(1, "view", start, 32),
            click(1, "add_to_cart", start),
            # 2 / 3 and 1 / 2
            *clicks(2, "view", before(1), 3),
            *clicks(2, "add_to_cart", before(1), 2),
            click(2, "checkout", before(1)),
            # a cart whose view was quarantined upstream: no views to divide by
            click(3, "add_to_cart", before(1)),
            click(3, "checkout", before(1)),
            # more carts than views: past 1, which the rule only warns about
            click(4, "view", before(1)),
            *clicks(4, "add_to_cart", before(1), 2),
            # only views: no carts to divide by
            click(5, "view", before(1)),
            click(5, "checkout", before(31)),  # outside the window
        ],
    )

    assert {user: rows[(user, D)]["view_to_cart_rate_30d"] for user in range(1, 6)} == {
        1: Decimal("0.0313"),
        2: Decimal("0.6667"),
        3: None,
        4: Decimal("2.0000"),
        5: Decimal("0.0000"),
    }
    assert {user: rows[(user, D)]["cart_to_checkout_rate_30d"] for user in range(1, 6)} == {
        1: Decimal("0.0000"),
        2: Decimal("0.5000"),
        3: Decimal("1.0000"),
        4: Decimal("0.0000"),
        5: None,
    }


def test_ten_carts_per_view_make_a_rate_past_1_not_a_failure(spark: SparkSession) -> None:
    rows = features(
        spark,
        events=[
            click(1, "view", D),
            click(1, "view", before(1)),
            *clicks(1, "add_to_cart", before(1), 10),
        ],
    )

    assert rows[(1, D)]["view_to_cart_rate_30d"] == Decimal("10.0000")


BOOKS, GARDEN, APPAREL = 1, 2, 3
BOOK, PLANT, BOOK_ON_PLANTS, SHIRT = 100, 101, 102, 104
CATALOGUE = {
    "links": [
        (BOOK, BOOKS),
        (PLANT, GARDEN),
        (BOOK_ON_PLANTS, BOOKS),
        (BOOK_ON_PLANTS, GARDEN),
        (SHIRT, APPAREL),
    ],
    "categories": [(BOOKS, "Books"), (GARDEN, "Garden"), (APPAREL, "Apparel")],
}


def test_the_favourite_category_is_the_one_viewed_most_in_the_30_days_before(
    spark: SparkSession,
) -> None:
    day = before(1)
    rows = features(
        spark,
        events=[
            *(click(user, "view", D) for user in range(1, 7)),
            # Books 2 (a book on plants counts for both), Garden 1, Apparel 1
            click(1, "view", day, BOOK),
            click(1, "view", day, BOOK_ON_PLANTS),
            click(1, "view", day, SHIRT),
            # Garden 3, Apparel 2, Books 1
            *clicks(2, "view", day, 2, PLANT),
            click(2, "view", day, BOOK_ON_PLANTS),
            *clicks(2, "view", day, 2, SHIRT),
            # a tie goes to the first name, not the first id
            click(3, "view", day, PLANT),
            click(3, "view", day, SHIRT),
            # carts are not views, and a product in no category is in none
            *clicks(4, "add_to_cart", day, 3, BOOK),
            click(4, "view", day, NO_CATEGORY),
            # Garden on the first day of the window; Apparel the day before it; Books today
            click(5, "view", before(30), PLANT),
            *clicks(5, "view", before(31), 2, SHIRT),
            *clicks(5, "view", D, 3, BOOK),
            # no views at all
            click(6, "purchase", day),
        ],
        **CATALOGUE,
    )

    assert {user: rows[(user, D)]["favourite_category"] for user in range(1, 7)} == {
        1: "Books",
        2: "Garden",
        3: "Apparel",
        4: None,
        5: "Garden",
        6: None,
    }


def test_types(spark: SparkSession) -> None:
    out = transform(spark, events=[click(1, "view", D)])

    assert types(out) == {
        "user_id": "bigint",
        "feature_date": "date",
        "views_7d": "bigint",
        "cart_adds_7d": "bigint",
        "orders_7d": "bigint",
        "revenue_usd_7d": "decimal(22,2)",
        "views_30d": "bigint",
        "cart_adds_30d": "bigint",
        "orders_30d": "bigint",
        "revenue_usd_30d": "decimal(22,2)",
        "view_to_cart_rate_30d": "decimal(12,4)",
        "cart_to_checkout_rate_30d": "decimal(12,4)",
        "days_since_last_order": "int",
        "has_abandoned_cart": "boolean",
        "is_buyer": "boolean",
        "is_high_value": "boolean",
        "favourite_category": "string",
    }
