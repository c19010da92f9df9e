"""The base class: `transform` checked against `upstream` at definition, and `validate`:
primary keys must be non-null and unique."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from etl.core.dataset import ETLDataSet, TableSpec
from etl.core.errors import DataQualityError
from etl.core.quality.engine import MAX_EXAMPLES
from etl.core.table import Table

NO_CONTEXT: Any = None  # validate reads nothing from the run context


class ToyOrders(Table):
    spec = TableSpec(
        name="toy_orders", layer="silver", grain="one row per order", primary_keys=("order_id",)
    )


class ToyOrderItems(Table):
    spec = TableSpec(
        name="toy_order_items",
        layer="silver",
        grain="one row per order line",
        primary_keys=("order_id", "line_no"),
    )


def validate(
    table: type[Table], spark: SparkSession, rows: list[tuple[object, ...]], schema: str
) -> ETLDataSet:
    dataset = ETLDataSet(
        spec=table.spec,
        curr_data=spark.createDataFrame(rows, schema),
        storage_path="file:///nowhere",
    )
    verdict = table(NO_CONTEXT).validate(dataset)
    assert verdict.kept.collect() == dataset.curr_data.collect()  # no drop rules: all go on
    return dataset


@pytest.mark.spark
def test_unique_non_null_key_passes(spark: SparkSession) -> None:
    validate(ToyOrders, spark, [(1, "a"), (2, "b"), (3, "a")], "order_id int, status string")


@pytest.mark.spark
def test_duplicate_key_is_named_with_examples(spark: SparkSession) -> None:
    rows = [(1, "a"), (2, "b"), (2, "c"), (3, "d"), (3, "e"), (3, "f")]

    with pytest.raises(DataQualityError) as caught:
        validate(ToyOrders, spark, rows, "order_id int, status string")

    message = str(caught.value)
    assert message.startswith("silver.toy_orders:")
    assert "3 duplicate rows" in message
    assert "order_id=2 (2x)" in message
    assert "order_id=3 (3x)" in message
    assert "order_id=1 " not in message


@pytest.mark.spark
def test_null_key_is_refused(spark: SparkSession) -> None:
    rows = [(1, "a"), (None, "b"), (None, "c")]

    with pytest.raises(
        DataQualityError, match=r"silver\.toy_orders: 2 rows have a null primary key"
    ):
        validate(ToyOrders, spark, rows, "order_id int, status string")


@pytest.mark.spark
def test_composite_key_is_unique_as_a_whole(spark: SparkSession) -> None:
    rows = [(1, 1, "x"), (1, 2, "y"), (2, 1, "z")]  # each column repeats, the pairs do not

    validate(ToyOrderItems, spark, rows, "order_id int, line_no int, sku string")


@pytest.mark.spark
def test_composite_key_duplicate(spark: SparkSession) -> None:
    rows = [(1, 1, "x"), (1, 2, "y"), (1, 2, "z")]

    with pytest.raises(DataQualityError) as caught:
        validate(ToyOrderItems, spark, rows, "order_id int, line_no int, sku string")

    message = str(caught.value)
    assert message.startswith("silver.toy_order_items:")
    assert "(order_id, line_no) is not unique: 1 duplicate rows" in message
    assert "order_id=1, line_no=2 (2x)" in message


@pytest.mark.spark
def test_composite_key_with_one_null_part_is_refused(spark: SparkSession) -> None:
    rows = [(1, 1, "x"), (1, None, "y"), (None, 2, "z")]

    with pytest.raises(DataQualityError, match="2 rows have a null primary key"):
        validate(ToyOrderItems, spark, rows, "order_id int, line_no int, sku string")


@pytest.mark.spark
def test_examples_are_capped(spark: SparkSession) -> None:
    rows = [(order_id, 1, "x") for order_id in range(MAX_EXAMPLES + 3) for _ in range(2)]

    with pytest.raises(DataQualityError) as caught:
        validate(ToyOrderItems, spark, rows, "order_id int, line_no int, sku string")

    message = str(caught.value)
    assert f"{MAX_EXAMPLES + 3} duplicate rows" in message
    assert message.count("(2x)") == MAX_EXAMPLES


@pytest.mark.spark
def test_string_keys_are_quoted_in_examples(spark: SparkSession) -> None:
    rows = [("A-1", 1, "x"), ("A-1", 1, "y")]

    with pytest.raises(DataQualityError, match=r"order_id='A-1', line_no=1 \(2x\)"):
        validate(ToyOrderItems, spark, rows, "order_id string, line_no int, sku string")


@pytest.mark.parametrize(
    ("transform", "upstream"),
    [
        (lambda self, order: None, ("orders",)),  # misspelt
        (lambda self: None, ("orders",)),  # missing
        (lambda self, orders, customers: None, ("orders",)),  # extra
        (lambda self, orders, **rest: None, ()),  # named but not declared
    ],
    ids=["misspelt", "missing", "extra", "undeclared"],
)
def test_transform_signature_must_match_upstream(
    transform: Callable[..., object], upstream: tuple[str, ...]
) -> None:
    spec = TableSpec(
        name="report", layer="gold", grain="one row", primary_keys=("id",), upstream=upstream
    )

    with pytest.raises(TypeError, match=r"spec\.upstream"):
        type("Report", (Table,), {"spec": spec, "transform": transform})


def test_transform_may_take_upstream_as_keyword_catch_all() -> None:
    class Report(Table):
        spec = TableSpec(
            name="report",
            layer="gold",
            grain="one row",
            primary_keys=("id",),
            upstream=("orders", "customers"),
        )

        def transform(self, orders: DataFrame, **others: DataFrame) -> DataFrame:
            return orders

    assert Report.spec.upstream == ("orders", "customers")
