"""Incremental strategies on toy tables: each build recomputes only what changed upstream,
and the table always equals what a full rebuild makes from the same inputs."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from etl.core import by_date, first_of, merge, not_in_future, references
from etl.core.dataset import TableSpec
from etl.core.pipeline import RunSummary, TableOutcome, new_context, run_pipeline
from etl.core.registry import Registry
from etl.core.settings import Settings
from etl.core.table import RunContext, Table

pytestmark = pytest.mark.spark


class Upstream(Table):
    """A table filled from `rows` (a class attribute the test edits): reads from outside the
    lake, so every run rebuilds it, and only its rows tell downstream tables what changed."""

    rows: ClassVar[list[tuple[object, ...]]]
    schema: ClassVar[str]

    def extract(self) -> dict[str, DataFrame]:
        return {"raw": self.context.spark.createDataFrame(self.rows, self.schema)}

    def transform(self, **sources: DataFrame) -> DataFrame:
        return sources["raw"]


class Users(Upstream):
    spec = TableSpec(name="users", layer="bronze", grain="user", primary_keys=("user_id",))
    schema = "user_id int, email string"


class Buyers(Upstream):
    spec = TableSpec(name="buyers", layer="bronze", grain="buyer", primary_keys=("buyer_id",))
    schema = "buyer_id int, user_id int"


class Orders(Upstream):
    spec = TableSpec(name="orders", layer="bronze", grain="order", primary_keys=("order_id",))
    schema = "order_id int, buyer_id int, order_ts timestamp, amount int"


class DimBuyer(Table):
    spec = TableSpec(
        name="dim_buyer",
        layer="silver",
        grain="buyer",
        primary_keys=("buyer_id",),
        upstream=("buyers", "users"),
        strategy=merge("buyer_id", via={"users": "user_id"}),
    )

    def transform(self, buyers: DataFrame, users: DataFrame) -> DataFrame:
        return buyers.join(users, "user_id", "left").select("buyer_id", "user_id", "email")


class FactOrders(Table):
    spec = TableSpec(
        name="fact_orders",
        layer="silver",
        grain="order",
        primary_keys=("order_id",),
        upstream=("orders", "dim_buyer"),
        partition_by=("order_date",),
        strategy=merge("order_id"),
        rules=(
            not_in_future("order_ts"),
            first_of("buyer_id", "order_ts", order_by="order_id", name="not_repeated"),
            references("buyer_id", "dim_buyer"),
        ),
    )

    def transform(self, orders: DataFrame) -> DataFrame:
        return orders.withColumn("order_date", F.to_date("order_ts"))


class DailyRevenue(Table):
    spec = TableSpec(
        name="daily_revenue",
        layer="gold",
        grain="day",
        primary_keys=("order_date",),
        upstream=("fact_orders",),
        strategy=by_date("order_date"),
    )

    def transform(self, fact_orders: DataFrame) -> DataFrame:
        return fact_orders.groupBy("order_date").agg(F.sum("amount").alias("revenue"))


TABLES = [Users, Buyers, Orders, DimBuyer, FactOrders, DailyRevenue]
MODELLED = [DimBuyer, FactOrders, DailyRevenue]
DAY_ONE = date(2025, 3, 1)


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2025, 3, day, hour)


@pytest.fixture(autouse=True)
def shop() -> None:
    Users.rows = [(1, "a@x.io"), (2, "b@x.io"), (3, "c@x.io")]
    Buyers.rows = [(10, 1), (20, 2), (30, 3)]
    Orders.rows = [
        (100, 10, at(1), 5),
        (101, 20, at(1), 7),
        (102, 30, at(2), 11),
        (103, 10, at(3), 13),
    ]
    # Earlier days, so that a day's changes touch a small part of the tables (a build that
    # would touch most of a table rebuilds it whole).
    Orders.rows += [(90 + day, 20, datetime(2025, 2, day, 9), day) for day in range(1, 9)]


def run(settings: Settings, spark: SparkSession, day: date, **options: bool) -> RunSummary:
    context = new_context(spark, settings, Registry(TABLES), logical_date=day, **options)
    summary = run_pipeline(context)
    assert summary.ok, [(o.name, o.message) for o in summary.failures()]
    return summary


def outcome(summary: RunSummary, name: str) -> TableOutcome:
    return next(o for o in summary.outcomes if o.name == name)


def assert_equals_full_refresh(
    spark: SparkSession, incremental: Settings, full: Settings, day: date
) -> None:
    run(full, spark, day, full_refresh=True)
    for table in MODELLED:
        mine = _context(spark, incremental, day)
        theirs = _context(spark, full, day)
        a, b = table(mine).read().curr_data, table(theirs).read().curr_data
        assert a.exceptAll(b).count() == 0 and b.exceptAll(a).count() == 0, table.spec.name


def _context(spark: SparkSession, settings: Settings, day: date) -> RunContext:
    return new_context(spark, settings, Registry(TABLES), logical_date=day)


@pytest.fixture
def refreshed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A second warehouse, rebuilt from scratch to compare with."""
    return Settings(warehouse=str(tmp_path_factory.mktemp("full-refresh")))


def test_a_join_side_change_reaches_only_the_rows_it_touches(
    spark: SparkSession, local_settings: Settings, refreshed: Settings
) -> None:
    run(local_settings, spark, DAY_ONE)
    Users.rows[1] = (2, "b@new.io")

    summary = run(local_settings, spark, DAY_ONE)

    dim = outcome(summary, "dim_buyer")
    assert (dim.strategy, dim.rows_changed) == ("merge(buyer_id)", 1)
    assert outcome(summary, "fact_orders").up_to_date
    assert outcome(summary, "daily_revenue").up_to_date
    assert_equals_full_refresh(spark, local_settings, refreshed, DAY_ONE)


def test_merge_updates_and_deletes_rows_and_rewrites_only_their_partitions(
    spark: SparkSession, local_settings: Settings, refreshed: Settings
) -> None:
    run(local_settings, spark, date(2025, 3, 3))
    Orders.rows[2] = (102, 30, at(2), 99)
    del Orders.rows[3]

    summary = run(local_settings, spark, date(2025, 3, 3))

    facts = outcome(summary, "fact_orders")
    assert (facts.rows_changed, facts.partitions_replaced) == (1, 2)
    daily = outcome(summary, "daily_revenue")
    assert (daily.strategy, daily.partitions_replaced) == ("by_date(order_date)", 2)
    revenue = _context(spark, local_settings, DAY_ONE)
    by_day = {r.order_date: r.revenue for r in DailyRevenue(revenue).read().curr_data.collect()}
    march = {day: revenue for day, revenue in by_day.items() if day.month == 3}
    assert march == {date(2025, 3, 1): 12, date(2025, 3, 2): 99}, "the emptied day is gone"
    assert_equals_full_refresh(spark, local_settings, refreshed, date(2025, 3, 3))


def test_nothing_changed_means_up_to_date_and_no_new_version(
    spark: SparkSession, local_settings: Settings
) -> None:
    first = run(local_settings, spark, DAY_ONE)
    second = run(local_settings, spark, DAY_ONE)

    for name in ("dim_buyer", "fact_orders", "daily_revenue"):
        assert outcome(second, name).up_to_date, name
        assert outcome(second, name).version == outcome(first, name).version, name


def test_a_row_from_the_future_arrives_when_its_day_comes(
    spark: SparkSession, local_settings: Settings, refreshed: Settings
) -> None:
    Orders.rows.append((104, 20, at(3, 12), 17))
    first = run(local_settings, spark, date(2025, 3, 2))
    assert outcome(first, "fact_orders").rows_quarantined == 2, "orders 103 and 104: in future"

    summary = run(local_settings, spark, date(2025, 3, 3))

    facts = outcome(summary, "fact_orders")
    assert (facts.strategy, facts.rows_changed) == ("merge(order_id)", 2)
    assert_equals_full_refresh(spark, local_settings, refreshed, date(2025, 3, 3))


def test_deleting_the_first_of_a_repeat_lets_the_repeat_through(
    spark: SparkSession, local_settings: Settings, refreshed: Settings
) -> None:
    Orders.rows.append((105, 10, at(1), 5))  # order 100 again under a new id
    first = run(local_settings, spark, date(2025, 3, 3))
    assert outcome(first, "fact_orders").rows_quarantined == 1
    del Orders.rows[0]

    summary = run(local_settings, spark, date(2025, 3, 3))

    assert outcome(summary, "fact_orders").rows_changed == 1, "105 comes in, 100 goes"
    assert_equals_full_refresh(spark, local_settings, refreshed, date(2025, 3, 3))


def test_a_reference_that_appears_lets_its_rows_through(
    spark: SparkSession, local_settings: Settings, refreshed: Settings
) -> None:
    Orders.rows.append((106, 40, at(2), 3))  # buyer 40 is not known yet
    first = run(local_settings, spark, date(2025, 3, 3))
    assert outcome(first, "fact_orders").rows_quarantined == 1
    Buyers.rows.append((40, 3))

    summary = run(local_settings, spark, date(2025, 3, 3))

    assert outcome(summary, "fact_orders").rows_changed == 1
    assert_equals_full_refresh(spark, local_settings, refreshed, date(2025, 3, 3))


def test_a_change_the_table_cannot_trace_rebuilds_it_whole(
    spark: SparkSession, local_settings: Settings
) -> None:
    class Untraced(Table):
        spec = TableSpec(
            name="untraced",
            layer="gold",
            grain="buyer",
            primary_keys=("buyer_id",),
            upstream=("buyers", "users"),
            strategy=merge("buyer_id"),
        )

        def transform(self, buyers: DataFrame, users: DataFrame) -> DataFrame:
            return buyers.join(users, "user_id")

    registry = Registry([*TABLES, Untraced])
    run_pipeline(new_context(spark, local_settings, registry, logical_date=DAY_ONE))
    Users.rows[0] = (1, "a@new.io")

    summary = run_pipeline(new_context(spark, local_settings, registry, logical_date=DAY_ONE))

    untraced = outcome(summary, "untraced")
    assert untraced.strategy == "full"
    assert untraced.note == "users changed and untraced does not trace its changes to rows"


def test_a_table_with_small_inputs_is_rebuilt_whole(
    spark: SparkSession, local_settings: Settings, refreshed: Settings
) -> None:
    small = local_settings.model_copy(update={"incremental_min_rows": 1_000})
    run(small, spark, DAY_ONE)
    Users.rows[1] = (2, "b@new.io")

    summary = run(small, spark, DAY_ONE)

    dim = outcome(summary, "dim_buyer")
    assert dim.strategy == "full" and "fewer than 1,000 (incremental_min_rows)" in dim.note
    assert dim.rows_changed == 3, "every buyer recomputed"
    assert_equals_full_refresh(spark, small, refreshed, DAY_ONE)


def test_full_refresh_rebuilds_everything(spark: SparkSession, local_settings: Settings) -> None:
    run(local_settings, spark, DAY_ONE)

    summary = run(local_settings, spark, DAY_ONE, full_refresh=True)

    for name in ("dim_buyer", "fact_orders", "daily_revenue"):
        built = outcome(summary, name)
        assert (built.strategy, built.note) == ("full", "full refresh asked for"), name


def test_a_failed_build_leaves_the_marks_so_the_next_one_redoes_the_change(
    spark: SparkSession, local_settings: Settings, refreshed: Settings
) -> None:
    run(local_settings, spark, date(2025, 3, 3))
    Orders.rows[1] = (101, 20, at(1), 70)
    Orders.rows.append((101, 20, at(1), 71))  # a duplicate key: fact_orders fails
    context = new_context(spark, local_settings, Registry(TABLES), logical_date=date(2025, 3, 3))
    assert not run_pipeline(context).ok
    del Orders.rows[-1]

    summary = run(local_settings, spark, date(2025, 3, 3))

    assert outcome(summary, "fact_orders").rows_changed == 1
    assert outcome(summary, "daily_revenue").partitions_replaced == 1
    assert_equals_full_refresh(spark, local_settings, refreshed, date(2025, 3, 3))
