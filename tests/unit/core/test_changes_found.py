"""Upstream changes are found once per run and span, however many tables ask at once, and
answer the same questions whether their rows are held in the driver or asked of Spark."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pyspark.sql import SparkSession

from etl.core import incremental
from etl.core.incremental import Changes, ChangesFound


def _slow_finder(calls: list[tuple[int, int]], span: tuple[int, int]) -> Any:
    def find() -> Any:
        calls.append(span)
        time.sleep(0.05)  # long enough for the other askers to arrive while it runs
        return f"changes {span}"

    return find


def test_concurrent_askers_share_one_search() -> None:
    found, calls = ChangesFound(), []
    span = (3, 5)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(lambda _: found.get("lake/orders", span, _slow_finder(calls, span)), range(4))
        )

    assert calls == [span]
    assert answers == ["changes (3, 5)"] * 4


def test_each_table_and_span_is_its_own_question() -> None:
    found, calls = ChangesFound(), []
    asked = [("lake/orders", (3, 5)), ("lake/orders", (4, 5)), ("lake/items", (3, 5))]

    for uri, span in asked:
        found.get(uri, span, _slow_finder(calls, span))
    found.get("lake/orders", (3, 5), _slow_finder(calls, (3, 5)))

    assert calls == [(3, 5), (4, 5), (3, 5)]


def test_a_lost_history_is_remembered_too() -> None:
    found = ChangesFound()
    calls = threading.Semaphore(0)

    def lost() -> None:
        calls.release()

    assert found.get("lake/orders", (1, 9), lost) is None
    assert found.get("lake/orders", (1, 9), lost) is None
    assert calls.acquire(blocking=False)
    assert not calls.acquire(blocking=False)


@pytest.mark.spark
@pytest.mark.parametrize("held_rows", [20_000, 1], ids=["held in the driver", "asked of Spark"])
def test_changes_answer_the_same_whether_held_or_asked(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch, held_rows: int
) -> None:
    monkeypatch.setattr(incremental, "HELD_ROWS", held_rows)
    schema = "order_id int, buyer_id int"
    before = spark.createDataFrame([(1, 10), (2, None), (3, 30)], schema)
    after = spark.createDataFrame([(1, 11), (3, 30), (4, 40)], schema)

    changes = Changes(before=before, after=after)

    assert not changes.empty
    assert changes.values("order_id") == {1, 2, 3, 4}
    assert changes.values("buyer_id") == {10, 11, 30, 40}, "nulls are not values"
    assert changes.appeared_or_gone("order_id") == {2, 4}


@pytest.mark.spark
def test_changes_without_rows_are_empty(spark: SparkSession) -> None:
    nothing = spark.createDataFrame([], "order_id int")

    changes = Changes(before=nothing, after=nothing)

    assert changes.empty
    assert changes.values("order_id") == set()
