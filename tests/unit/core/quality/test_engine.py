"""Each severity on a small DataFrame, and the rules that look into other tables."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from etl.core import (
    EMAIL,
    between,
    equals_within,
    first_of,
    in_set,
    matches,
    mean_between,
    not_in_future,
    references,
    sum_of,
    unique,
)
from etl.core.lake import Written
from etl.core.quality import engine
from etl.core.quality.engine import (
    FAILED_RULES,
    RulesBroken,
    check,
    evaluate,
    raise_on_failure,
    release,
)
from etl.core.retry import transient_cause

pytestmark = pytest.mark.spark

ITEMS = "item_id int, quantity int, price decimal(10,2)"
ROWS = [(1, 2, Decimal("5.00")), (2, -1, Decimal("3.00")), (3, 1, Decimal("0.00"))]
NOW = datetime(2025, 2, 1, tzinfo=UTC)


def ids(rows: list) -> list[int]:
    return sorted(r["item_id"] for r in rows)


def test_warn_records_and_keeps_every_row(spark: SparkSession) -> None:
    data = spark.createDataFrame(ROWS, ITEMS)
    rule = between("quantity", 1, severity="warn", name="quantity_positive")

    verdict = evaluate(data, [rule], table="silver.items")
    raise_on_failure(verdict, [rule], table="silver.items")

    assert verdict.kept.collect() == data.collect()
    assert verdict.quarantine is None
    [result] = verdict.results
    assert (result.rule, result.success, result.unexpected_count) == ("quantity_positive", False, 1)


def test_drop_quarantines_failing_rows_with_the_rules_they_broke(spark: SparkSession) -> None:
    data = spark.createDataFrame(ROWS, ITEMS)
    rules = [
        between("quantity", 1, name="quantity_at_least_one"),
        between("price", 0, strict_min=True, name="price_positive"),
    ]

    verdict = evaluate(data, rules, table="silver.items")

    assert ids(verdict.kept.collect()) == [1]
    assert verdict.kept.columns == data.columns
    assert verdict.quarantine is not None
    quarantined = {r["item_id"]: r[FAILED_RULES] for r in verdict.quarantine.collect()}
    assert quarantined == {2: ["quantity_at_least_one"], 3: ["price_positive"]}
    assert (verdict.rows_in, verdict.rows_dropped) == (3, 2)
    assert [(r.rule, r.unexpected_count) for r in verdict.results] == [
        ("quantity_at_least_one", 1),
        ("price_positive", 1),
    ]


def test_fail_names_the_table_the_rule_and_offending_values(spark: SparkSession) -> None:
    data = spark.createDataFrame(ROWS, ITEMS)
    rules = [between("quantity", 1, severity="fail", name="quantity_at_least_one")]

    verdict = evaluate(data, rules, table="silver.items")
    with pytest.raises(RulesBroken) as caught:
        raise_on_failure(verdict, rules, table="silver.items")

    message = str(caught.value)
    assert message.startswith("silver.items: 1 rows break rule quantity_at_least_one")
    assert "quantity=-1" in message
    assert [r.success for r in caught.value.results] == [False]


def test_fail_rules_judge_only_the_rows_that_would_be_written(spark: SparkSession) -> None:
    data = spark.createDataFrame(ROWS, ITEMS)
    rules = [
        between("quantity", 1, name="quantity_at_least_one"),
        between("quantity", 0, severity="fail", name="quantity_not_negative"),
    ]

    verdict = evaluate(data, rules, table="silver.items")
    raise_on_failure(verdict, rules, table="silver.items")  # item 2 is quarantined: no failure

    assert verdict.results[1].success


def test_nulls_pass_value_rules(spark: SparkSession) -> None:
    data = spark.createDataFrame([(1, None, None)], ITEMS)
    rules = [between("quantity", 1), in_set("price", [Decimal("1.00")])]

    verdict = evaluate(data, rules, table="t")

    assert verdict.rows_dropped == 0


def test_value_rules(spark: SparkSession) -> None:
    data = spark.createDataFrame(
        [
            (1, "a@b.com", "view", datetime(2025, 1, 1, tzinfo=UTC)),
            (2, "a b@c.com", "view", datetime(2025, 1, 1, tzinfo=UTC)),
            (3, "a@b", "click", datetime(2030, 1, 1, tzinfo=UTC)),
        ],
        "id int, email string, kind string, at timestamp",
    )
    rules = [
        matches("email", EMAIL, name="email_well_formed"),
        in_set("kind", ["view"], name="kind_known"),
        not_in_future("at", name="at_not_in_future"),
    ]

    verdict = evaluate(data, rules, table="t", now=NOW)

    assert verdict.quarantine is not None
    broken = {r["id"]: r[FAILED_RULES] for r in verdict.quarantine.collect()}
    assert broken == {
        2: ["email_well_formed"],
        3: ["email_well_formed", "kind_known", "at_not_in_future"],
    }


def test_references_and_totals_look_into_upstream_tables(spark: SparkSession) -> None:
    orders = spark.createDataFrame(
        [(1, 10, Decimal("7.00")), (2, 11, Decimal("5.00")), (3, None, Decimal("0.00"))],
        "order_id int, buyer_id int, total decimal(12,2)",
    )
    buyers = spark.createDataFrame([(10,), (10,)], "buyer_id int")
    lines = spark.createDataFrame(
        [(1, Decimal("3.00")), (1, Decimal("4.00")), (2, Decimal("4.98"))],
        "order_id int, amount decimal(10,2)",
    )
    rules = [
        references("buyer_id", "buyers", name="buyer_known"),
        equals_within(
            "total",
            sum_of("lines", key="order_id", amount=lambda t: t.amount),
            Decimal("0.01"),
            name="total_matches",
        ),
    ]

    verdict = evaluate(orders, rules, table="t", inputs={"buyers": buyers, "lines": lines})

    assert verdict.quarantine is not None
    broken = {r["order_id"]: r[FAILED_RULES] for r in verdict.quarantine.collect()}
    assert broken == {2: ["buyer_known", "total_matches"]}
    assert sorted(r["order_id"] for r in verdict.kept.collect()) == [1, 3]
    assert verdict.kept.columns == orders.columns


def test_a_reference_looks_keys_up_without_deduplicating_them(spark: SparkSession) -> None:
    """An existence join flags each row once however often the key repeats over there, so
    the other table's keys are not grouped first (a shuffle and a Spark job of their own)."""
    orders = spark.createDataFrame([(1, 10), (2, 11)], "order_id int, buyer_id int")
    buyers = spark.createDataFrame([(10,), (10,)], "buyer_id int")
    rule = references("buyer_id", "buyers")
    assert rule.prepare is not None

    flagged = rule.prepare(orders, {"buyers": buyers}, "_found")

    plan = flagged._jdf.queryExecution().optimizedPlan().toString()
    assert "ExistenceJoin" in plan
    assert "Aggregate" not in plan
    assert sorted(tuple(r) for r in flagged.collect()) == [(1, 10, True), (2, 11, False)]


def test_first_of_drops_later_repeats_only(spark: SparkSession) -> None:
    events = spark.createDataFrame(
        [(1, 7, "view"), (2, 7, "view"), (3, 7, "cart"), (4, 7, "view")],
        "event_id int, user_id int, kind string",
    )
    rules = [
        first_of("user_id", "kind", order_by="event_id", name="not_repeated"),
        unique("user_id", "kind", name="no_duplicates"),
    ]

    verdict = evaluate(events, rules, table="t")
    raise_on_failure(verdict, rules, table="t")

    assert verdict.quarantine is not None
    assert sorted(r["event_id"] for r in verdict.quarantine.collect()) == [2, 4]


def test_first_of_tells_apart_groups_whose_hashes_collide(spark: SparkSession) -> None:
    """The window leads with a hash of the columns; ("x", null) and (null, "x") hash alike
    (nulls add nothing to it) but are different groups, each with a first row."""
    events = spark.createDataFrame(
        [(1, "x", None), (2, None, "x"), (3, "x", None), (4, None, "x"), (5, None, None)],
        "event_id int, page string, referrer string",
    )
    rule = first_of("page", "referrer", order_by="event_id", name="not_repeated")
    hashes = events.select(F.xxhash64("page", "referrer").alias("hash")).distinct().count()

    verdict = evaluate(events, [rule], table="t")

    assert hashes == 2
    assert verdict.quarantine is not None
    assert sorted(r["event_id"] for r in verdict.quarantine.collect()) == [3, 4]


def test_first_of_sorts_on_the_hash_of_its_columns_first(spark: SparkSession) -> None:
    events = spark.createDataFrame([(1, 7, "view")], "event_id int, user_id int, kind string")
    rule = first_of("user_id", "kind", order_by="event_id", name="not_repeated")

    assert rule.prepare is not None
    numbered = rule.prepare(events, {}, "_dq_not_repeated")
    plan = numbered._jdf.queryExecution().executedPlan().toString()

    sort = next(line for line in plan.splitlines() if "Sort [" in line)
    first_key = sort.split("Sort [", 1)[1].split(" ASC", 1)[0]
    assert re.search(rf"xxhash64\(user_id#\d+, kind#\d+, \d+\) AS {re.escape(first_key)}", plan)


def test_held_rows_are_freed_and_losing_them_is_transient(spark: SparkSession) -> None:
    """The quarantine reads rows the write computed; once released they are gone, and a
    build that lost them (an executor died) fails with an error worth another attempt."""
    events = spark.createDataFrame([(1, "view"), (2, "nap")], "event_id int, kind string")
    rule = in_set("kind", ["view"], name="kind_known")
    persistent = spark.sparkContext._jsc.sc().getPersistentRDDs

    checked = check(events, [rule], table="t")
    assert checked.held is not None
    rdd_id = checked.held._jdf.queryExecution().logical().rdd().id()
    checked.kept.write.format("noop").mode("overwrite").save()
    assert checked.quarantine is not None
    quarantined = [(r["event_id"], r[FAILED_RULES]) for r in checked.quarantine.collect()]
    held = persistent().contains(rdd_id)
    release(checked)

    assert quarantined == [(2, ["kind_known"])]
    assert held
    assert not persistent().contains(rdd_id)
    with pytest.raises(Py4JJavaError) as lost:
        checked.quarantine.collect()
    assert transient_cause(lost.value) is not None


def test_unique_fail_shows_duplicates(spark: SparkSession) -> None:
    data = spark.createDataFrame([(1,), (1,), (2,)], "order_id int")
    rules = [unique("order_id", name="no_duplicate_orders")]

    with pytest.raises(RulesBroken, match=r"1 duplicate rows, e\.g\. order_id=1 \(2x\)"):
        raise_on_failure(evaluate(data, rules, table="t"), rules, table="t")


@pytest.mark.parametrize("in_process_values", [0, 1_000], ids=["by Spark", "in process"])
def test_duplicates_count_alike_in_spark_and_in_process(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch, in_process_values: int
) -> None:
    """A null is a value like any other in a composite key, whichever way rows are counted."""
    monkeypatch.setattr(engine, "IN_PROCESS_VALUES", in_process_values)
    data = spark.createDataFrame(
        [(1, "a"), (1, "a"), (1, None), (1, None), (2, None)], "order_id int, kind string"
    )
    rules = [unique("order_id", "kind", name="no_duplicates"), unique("order_id", name="one")]

    verdict = evaluate(data, rules, table="t")

    assert {r.rule: r.unexpected_count for r in verdict.results} == {"no_duplicates": 2, "one": 3}


def test_gx_evaluates_table_expectations(spark: SparkSession) -> None:
    data = spark.createDataFrame(
        [(Decimal("10.00"),), (Decimal("300000.00"),)], "mean_revenue decimal(12,2)"
    )
    rule = mean_between("mean_revenue", max_value=100_000, name="mean_revenue_plausible")

    verdict = evaluate(data, [rule], table="gold.daily")

    [result] = verdict.results
    assert not result.success
    assert result.observed_value is not None and float(result.observed_value) == 150005.0
    with pytest.raises(RulesBroken, match=r"gold\.daily: rule mean_revenue_plausible failed"):
        raise_on_failure(verdict, [rule], table="gold.daily")


def test_a_table_rule_cannot_drop() -> None:
    with pytest.raises(ValueError, match="cannot drop rows"):
        unique("id", severity="drop")


def _written_without_reading(rows: int) -> Written:
    def load(columns: Sequence[str]) -> pa.Table:
        raise AssertionError(f"the written rows were read for {list(columns)}")

    return Written(rows=rows, frame=None, load=load)  # type: ignore[arg-type]


def test_a_uniqueness_that_a_drop_rule_enforced_is_not_counted_again(spark: SparkSession) -> None:
    """`first_of` kept one row per (user_id, kind): the rows written are unique there."""
    events = spark.createDataFrame(
        [(1, 7, "view"), (2, 7, "view"), (3, 7, "cart")], "event_id int, user_id int, kind string"
    )
    rules = [
        first_of("user_id", "kind", order_by="event_id", name="not_repeated"),
        unique("user_id", "kind", name="no_duplicates"),
    ]
    checked = engine.check(events, rules, table="t", now=NOW)
    checked.kept.write.format("noop").mode("overwrite").save()

    verdict = engine.judge(checked, _written_without_reading(2))

    (result,) = [r for r in verdict.results if r.rule == "no_duplicates"]
    assert result.success and result.unexpected_count == 0 and result.element_count == 2


def test_rows_carried_from_the_table_are_counted_for_uniqueness(spark: SparkSession) -> None:
    """Rows the check did not see (kept from the table by a merge) may repeat a group."""
    events = spark.createDataFrame([(1, 7, "view")], "event_id int, user_id int, kind string")
    rules = [
        first_of("user_id", "kind", order_by="event_id", name="not_repeated"),
        unique("user_id", "kind", name="no_duplicates"),
    ]
    checked = engine.check(events, rules, table="t", now=NOW)
    checked.kept.write.format("noop").mode("overwrite").save()

    with pytest.raises(AssertionError, match="the written rows were read"):
        engine.judge(checked, _written_without_reading(2))
