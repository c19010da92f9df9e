"""The generator's promises, checked in memory: no database needed."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from datagen import TABLES, DatagenError, generate, row_counts

END_DATE = date(2025, 1, 31)
END = datetime(2025, 1, 31, tzinfo=UTC)
WINDOW_START = END - timedelta(days=90)

FOREIGN_KEYS = [
    ("product", "brand_id", "brand", "brand_id"),
    ("product", "manufacturer_id", "manufacturer", "manufacturer_id"),
    ("productcategory", "product_id", "product", "product_id"),
    ("productcategory", "category_id", "category", "category_id"),
    ("seller", "user_id", "appuser", "user_id"),
    ("buyer", "user_id", "appuser", "user_id"),
    ("sellerproduct", "seller_id", "seller", "seller_id"),
    ("sellerproduct", "product_id", "product", "product_id"),
    ("ratings", "product_id", "product", "product_id"),
    ("ratings", "user_id", "appuser", "user_id"),
    ("orders", "buyer_id", "buyer", "buyer_id"),
    ("orderitem", "order_id", "orders", "order_id"),
    ("orderitem", "product_id", "product", "product_id"),
    ("orderitem", "seller_id", "seller", "seller_id"),
    ("clickstream", "user_id", "appuser", "user_id"),
    ("clickstream", "product_id", "product", "product_id"),
    ("clickstream", "order_id", "orders", "order_id"),
]


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return generate(scale=0.1, seed=11, end_date=END_DATE)


def rows(tables: dict[str, pa.Table], name: str) -> list[dict]:
    return tables[name].to_pylist()


def by_key(tables: dict[str, pa.Table], name: str, key: str) -> dict[int, dict]:
    return {row[key]: row for row in rows(tables, name)}


def test_same_seed_and_end_date_give_identical_data() -> None:
    first = generate(scale=0.05, seed=3, end_date=END_DATE)
    second = generate(scale=0.05, seed=3, end_date=END_DATE)
    assert list(first) == list(second) == list(TABLES)
    for name in TABLES:
        assert first[name].equals(second[name]), name


def test_a_different_seed_gives_different_data() -> None:
    first = generate(scale=0.05, seed=3, end_date=END_DATE)
    second = generate(scale=0.05, seed=4, end_date=END_DATE)
    assert not first["orders"].equals(second["orders"])
    assert not first["appuser"].equals(second["appuser"])


def test_the_end_date_moves_the_window(tables: dict[str, pa.Table]) -> None:
    later = generate(scale=0.1, seed=11, end_date=END_DATE + timedelta(days=1))
    shift = timedelta(days=1)
    assert [t + shift for t in tables["orders"].column("order_ts").to_pylist()] == later[
        "orders"
    ].column("order_ts").to_pylist()


@pytest.mark.parametrize(("child", "column", "parent", "key"), FOREIGN_KEYS)
def test_every_foreign_key_resolves(
    tables: dict[str, pa.Table], child: str, column: str, parent: str, key: str
) -> None:
    references = {value for value in tables[child].column(column).to_pylist() if value is not None}
    assert references, f"{child}.{column} is never set"
    assert references <= set(tables[parent].column(key).to_pylist())


@pytest.mark.parametrize("name", TABLES)
def test_keys_are_one_to_n(tables: dict[str, pa.Table], name: str) -> None:
    keys = tables[name].column(0).to_pylist()
    assert keys == list(range(1, len(keys) + 1))


def test_order_totals_equal_the_sum_of_their_items(tables: dict[str, pa.Table]) -> None:
    sums: dict[int, Decimal] = defaultdict(Decimal)
    for item in rows(tables, "orderitem"):
        assert item["tax"] == item["tax"].quantize(Decimal("0.01"))
        sums[item["order_id"]] += item["quantity"] * item["base_price"] + item["tax"]
    totals = {order["order_id"]: order["total_price"] for order in rows(tables, "orders")}
    assert totals == sums


def test_items_are_priced_at_their_products_price(tables: dict[str, pa.Table]) -> None:
    prices = {p["product_id"]: p["price"] for p in rows(tables, "product")}
    offers = {(o["seller_id"], o["product_id"]) for o in rows(tables, "sellerproduct")}
    for item in rows(tables, "orderitem"):
        assert item["base_price"] == prices[item["product_id"]]
        assert (item["seller_id"], item["product_id"]) in offers


def test_products_have_one_to_three_categories_except_a_few(tables: dict[str, pa.Table]) -> None:
    per_product = defaultdict(set)
    for link in rows(tables, "productcategory"):
        per_product[link["product_id"]].add(link["category_id"])
    products = tables["product"].column("product_id").to_pylist()
    counts = [len(per_product[product]) for product in products]
    uncategorised = counts.count(0)
    assert 1 <= uncategorised <= max(1, len(products) // 20)
    assert all(count <= 3 for count in counts)
    assert tables["productcategory"].num_rows == sum(counts)  # no duplicate links


def test_every_product_has_a_seller(tables: dict[str, pa.Table]) -> None:
    offered = set(tables["sellerproduct"].column("product_id").to_pylist())
    assert offered == set(tables["product"].column("product_id").to_pylist())


def sessions(tables: dict[str, pa.Table]) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = defaultdict(list)
    for event in sorted(
        rows(tables, "clickstream"), key=lambda e: (e["event_ts"], e["clickstream_id"])
    ):
        grouped[event["session_id"]].append(event)
    return grouped


def test_sessions_follow_the_funnel(tables: dict[str, pa.Table]) -> None:
    for events in sessions(tables).values():
        kinds = [event["event_type"] for event in events]
        timestamps = [event["event_ts"] for event in events]
        assert timestamps == sorted(set(timestamps)), "events of a session are strictly ordered"
        assert len({event["user_id"] for event in events}) == 1
        viewed: set[int] = set()
        for position, event in enumerate(events):
            kind = event["event_type"]
            assert (event["order_id"] is not None) == (kind == "purchase")
            assert (event["product_id"] is not None) == (kind in ("view", "add_to_cart"))
            if kind == "view":
                viewed.add(event["product_id"])
            elif kind == "add_to_cart":
                assert event["product_id"] in viewed
            elif kind == "checkout":
                assert "add_to_cart" in kinds[:position]
                assert set(kinds[position + 1 :]) <= {"purchase"}
            else:
                assert kind == "purchase"
                assert kinds[position - 1] == "checkout"
                assert position == len(events) - 1


def test_each_order_has_one_purchase_session_with_its_items(tables: dict[str, pa.Table]) -> None:
    orders = by_key(tables, "orders", "order_id")
    buyers = by_key(tables, "buyer", "buyer_id")
    items: dict[int, set[int]] = defaultdict(set)
    for item in rows(tables, "orderitem"):
        items[item["order_id"]].add(item["product_id"])
    purchased = []
    for events in sessions(tables).values():
        if events[-1]["event_type"] != "purchase":
            continue
        order = orders[events[-1]["order_id"]]
        purchased.append(order["order_id"])
        assert events[-1]["user_id"] == buyers[order["buyer_id"]]["user_id"]
        assert {e["product_id"] for e in events if e["event_type"] == "add_to_cart"} == items[
            order["order_id"]
        ]
        assert events[-2]["event_ts"] == order["order_ts"] < events[-1]["event_ts"]
    assert sorted(purchased) == sorted(orders)


def test_timestamps_are_ordered_and_inside_the_window(tables: dict[str, pa.Table]) -> None:
    users = by_key(tables, "appuser", "user_id")
    buyers = by_key(tables, "buyer", "buyer_id")
    products = by_key(tables, "product", "product_id")
    orders = by_key(tables, "orders", "order_id")
    for buyer in buyers.values():
        assert users[buyer["user_id"]]["created_ts"] <= buyer["created_ts"]
    for order in orders.values():
        assert buyers[order["buyer_id"]]["created_ts"] < order["order_ts"]
        assert WINDOW_START <= order["order_ts"] < END
    for product in products.values():
        assert product["created_ts"] < WINDOW_START
    for offer in rows(tables, "sellerproduct"):
        assert offer["created_ts"] < WINDOW_START
    for event in rows(tables, "clickstream"):
        assert users[event["user_id"]]["created_ts"] < event["event_ts"] < END
    for rating in rows(tables, "ratings"):
        assert rating["created_ts"] < END
    for name in TABLES:
        for row in rows(tables, name):
            assert row["created_ts"] <= row["last_updated_ts"] <= END, name


def test_sizes_grow_linearly_with_the_scale() -> None:
    small = row_counts(generate(scale=0.1, seed=5, end_date=END_DATE))
    large = row_counts(generate(scale=0.2, seed=5, end_date=END_DATE))
    for name in ("appuser", "product", "buyer", "orders"):
        assert large[name] == 2 * small[name], name
    for name in ("orderitem", "clickstream", "sellerproduct", "productcategory"):
        assert 1.8 < large[name] / small[name] < 2.2, name
    assert small["category"] == large["category"] == 20


def test_scale_one_has_the_documented_sizes() -> None:
    counts = row_counts(generate(scale=1, seed=1, end_date=END_DATE))
    assert counts["appuser"] == 1_000
    assert counts["product"] == 500
    assert counts["orders"] == 10_000
    assert 28_000 < counts["orderitem"] < 32_000
    assert 95_000 < counts["clickstream"] < 105_000


@pytest.mark.parametrize("scale", [0, -1])
def test_a_scale_must_be_positive(scale: float) -> None:
    with pytest.raises(DatagenError, match="positive"):
        generate(scale=scale, seed=1, end_date=END_DATE)
