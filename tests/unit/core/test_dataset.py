"""TableSpec: names, keys, modes and upstream checked when declared; frozen and keyword-only."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from etl.core.dataset import TableSpec


@pytest.mark.parametrize("name", ["Orders", "1orders", "order-items", "orders ", ""])
def test_spec_rejects_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="snake_case"):
        TableSpec(name=name, layer="silver", grain="g", primary_keys=("id",))


def test_spec_requires_primary_keys() -> None:
    with pytest.raises(ValueError, match="primary keys"):
        TableSpec(name="orders", layer="silver", grain="g", primary_keys=())


def test_spec_overwrite_partitions_requires_partition_by() -> None:
    with pytest.raises(ValueError, match="partition_by"):
        TableSpec(
            name="orders",
            layer="silver",
            grain="g",
            primary_keys=("id",),
            mode="overwrite_partitions",
        )


def test_spec_rejects_itself_as_upstream() -> None:
    with pytest.raises(ValueError, match="own upstream"):
        TableSpec(
            name="orders", layer="silver", grain="g", primary_keys=("id",), upstream=("orders",)
        )


def test_spec_is_frozen_and_keyword_only() -> None:
    spec = TableSpec(name="toy_orders", layer="silver", grain="g", primary_keys=("order_id",))

    with pytest.raises(FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        TableSpec("orders", "silver", "g", ("id",))  # type: ignore[misc]
    assert spec.qualified_name == "silver.toy_orders"


def test_a_spec_without_layer_gets_one_when_placed() -> None:
    spec = TableSpec(name="orders", grain="g", primary_keys=("id",))

    with pytest.raises(ValueError, match="layer folder"):
        _ = spec.qualified_name
    assert spec.in_layer("gold").qualified_name == "gold.orders"
