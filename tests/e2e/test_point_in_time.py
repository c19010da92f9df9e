"""ML features are point-in-time correct: a day's features ignore that day and every later one.

The shop's last active day D and the day after are given the activity of the day before D again
(orders, their items, their clickstream sessions, under new ids). A fresh build must then
hold, for every user and day it held before up to D, the same feature row: what happened on
D and later is not known at the start of D.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from etl.core.pipeline import new_context, run_pipeline
from etl.core.registry import Registry
from etl.core.upstream import connect
from tests.e2e.reports import pipeline_settings, upstream_at
from tests.fixtures.postgres import generated_shop

pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.postgres]

COPIED = {
    "orders": ("order_id", "buyer_id, {shift}(order_ts), total_price", "order_ts"),
    "orderitem": (
        "orderitem_id",
        "order_id + {offset}, product_id, seller_id, quantity, base_price, tax",
        "(SELECT order_ts FROM rainforest.orders o WHERE o.order_id = t.order_id)",
    ),
    "clickstream": (
        "clickstream_id",
        "session_id + {offset}, user_id, event_type, product_id, order_id + {offset}, "
        "{shift}(event_ts)",
        "event_ts",
    ),
}
"""Per table: its key, its other columns as copied, and the timestamp that dates a row."""


@pytest.fixture(scope="module")
def shop(postgres_dsn: str) -> Iterator[str]:
    with generated_shop(postgres_dsn) as dsn:
        yield dsn


def _features(spark: SparkSession, dsn: str, folder: Path) -> DataFrame:
    context = new_context(
        spark, pipeline_settings(folder), Registry.discover(), upstream=upstream_at(dsn)
    )
    summary = run_pipeline(context, ["user_daily_features"])
    assert summary.ok, summary.failures()
    return context.registry.get("user_daily_features")(context).read().curr_data


def _repeat_the_day_before(day: date, dsn: str) -> None:
    """Copy the activity of the day before `day` onto `day` and the day after."""
    with connect(dsn) as conn, conn.cursor() as cursor:
        for days in (1, 2):
            offset = days * 1_000_000
            shift = f"(interval '{days} days') + "
            stamps = f"{shift}created_ts, {shift}last_updated_ts"
            for table, (key, columns, dated) in COPIED.items():
                copied = columns.format(offset=offset, shift=shift)
                cursor.execute(
                    f"INSERT INTO rainforest.{table} "
                    f"SELECT {key} + {offset}, {copied}, {stamps} "
                    f"FROM rainforest.{table} t WHERE ({dated})::date = %s",
                    (day - timedelta(days=1),),
                )
                assert cursor.rowcount > 0, table


def test_features_of_a_day_do_not_change_when_that_day_and_later_ones_fill_up(
    spark: SparkSession, shop: str, tmp_path: Path
) -> None:
    before = _features(spark, shop, tmp_path / "before").localCheckpoint()
    last_day = before.agg(F.max("feature_date")).first()[0]
    _repeat_the_day_before(last_day, shop)
    after = _features(spark, shop, tmp_path / "after").localCheckpoint()

    known = after.join(before.select("user_id", "feature_date"), ["user_id", "feature_date"])
    assert known.count() == before.count()
    assert known.exceptAll(before).count() == 0, known.exceptAll(before).limit(5).collect()
    day_after = after.where(F.col("feature_date") == last_day + timedelta(days=1))
    assert day_after.where(F.col("views_7d") > 0).count() > 0, "the new days were read"
