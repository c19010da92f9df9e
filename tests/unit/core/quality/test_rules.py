"""Rule declarations, checked without Spark: what a table may declare and how GX sees it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pyspark.sql import DataFrame

from etl.core import between, not_in_future, references, unique
from etl.core.dataset import TableSpec
from etl.core.registry import Registry
from etl.core.table import Table


def spec(**changes: object) -> TableSpec:
    fields: dict[str, object] = {
        "name": "items",
        "layer": "silver",
        "grain": "one row per item",
        "primary_keys": ("item_id",),
        **changes,
    }
    return TableSpec(**fields)  # type: ignore[arg-type]


def test_primary_key_checks_come_first_and_fail() -> None:
    rules = spec(rules=(between("quantity", 1),)).all_rules

    assert [(r.name, r.severity) for r in rules] == [
        ("primary_key_not_null", "fail"),
        ("primary_key_unique", "fail"),
        ("quantity_in_range", "drop"),
    ]


def test_a_rule_may_look_only_into_upstream_tables() -> None:
    with pytest.raises(ValueError, match="add them to upstream"):
        spec(rules=(references("product_id", "dim_product"),))


def test_rule_names_are_unique_per_table() -> None:
    with pytest.raises(ValueError, match="more than once"):
        spec(rules=(unique("sku", name="primary_key_unique"),))


def test_transform_may_leave_out_tables_only_rules_look_into() -> None:
    class Items(Table):
        spec = spec(
            upstream=("orderitem", "dim_product"),
            rules=(references("product_id", "dim_product"),),
        )

        def transform(self, orderitem: DataFrame) -> DataFrame:
            return orderitem

    assert "dim_product" in Registry([Items]).get("items").spec.upstream


def test_transform_must_still_take_its_other_upstream_tables() -> None:
    with pytest.raises(TypeError, match="name one parameter after each upstream table"):

        class Items(Table):
            spec = spec(upstream=("orderitem", "orders"))

            def transform(self, orderitem: DataFrame) -> DataFrame:
                return orderitem


def test_run_time_arguments_are_filled_in_for_gx() -> None:
    now = datetime(2025, 2, 1, tzinfo=UTC)

    expectation = not_in_future("event_ts").gx_expectation(now)

    assert expectation.configuration.kwargs["max_value"] == now
    assert expectation.meta == {"rule": "event_ts_not_in_future", "severity": "drop"}
