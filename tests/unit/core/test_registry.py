"""Registry: build order, targets, cycles, unknown and duplicate names, discovery and layer
folders; no Spark."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from etl.core.dataset import Layer, TableSpec
from etl.core.errors import ConfigError, DependencyCycleError, TableNotFoundError
from etl.core.registry import Registry
from etl.core.table import Table

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class ToyCustomers(Table):
    spec = TableSpec(
        name="toy_customers", layer="bronze", grain="one row per customer", primary_keys=("id",)
    )

    def transform(self) -> DataFrame:
        raise NotImplementedError


class ToyOrders(Table):
    spec = TableSpec(
        name="toy_orders",
        layer="silver",
        grain="one row per order",
        primary_keys=("order_id",),
        upstream=("toy_customers",),
    )

    def transform(self, toy_customers: DataFrame) -> DataFrame:
        return toy_customers


class ToyPayments(Table):
    spec = TableSpec(
        name="toy_payments",
        layer="silver",
        grain="one row per payment",
        primary_keys=("payment_id",),
        upstream=("toy_customers",),
    )

    def transform(self, toy_customers: DataFrame) -> DataFrame:
        return toy_customers


class ToyRevenue(Table):
    spec = TableSpec(
        name="toy_revenue",
        layer="gold",
        grain="one row per customer",
        primary_keys=("customer_id",),
        upstream=("toy_orders", "toy_payments"),
    )

    def transform(self, toy_orders: DataFrame, toy_payments: DataFrame) -> DataFrame:
        return toy_orders.join(toy_payments, "customer_id")


DIAMOND = (ToyRevenue, ToyPayments, ToyOrders, ToyCustomers)  # deliberately upstream last


def toy(name: str, *upstream: str, layer: Layer = "silver") -> type[Table]:
    """A table class with only a spec: enough for the registry, which never runs tables."""
    spec = TableSpec(
        name=name, layer=layer, grain=f"one row per {name}", primary_keys=("id",), upstream=upstream
    )
    return type(f"Toy_{name}", (Table,), {"spec": spec, "__module__": __name__})


def names(tables: list[type[Table]]) -> list[str]:
    return [t.spec.name for t in tables]


def test_upstream_comes_first() -> None:
    registry = Registry([toy("c", "b"), toy("b", "a"), toy("a")])

    assert names(registry.build_order()) == ["a", "b", "c"]


def test_diamond_builds_shared_upstream_once() -> None:
    order = names(Registry(DIAMOND).build_order(["toy_revenue"]))

    assert order == ["toy_customers", "toy_orders", "toy_payments", "toy_revenue"]


def test_targets_restrict_the_plan_to_what_they_need() -> None:
    registry = Registry(DIAMOND)

    assert names(registry.build_order(["toy_orders"])) == ["toy_customers", "toy_orders"]
    assert names(registry.build_order(["toy_customers"])) == ["toy_customers"]


def test_no_targets_means_every_table() -> None:
    registry = Registry(DIAMOND)

    assert names(registry.build_order()) == names(registry.build_order([]))
    assert sorted(names(registry.build_order())) == sorted(t.spec.name for t in DIAMOND)


def test_independent_tables_are_ordered_by_layer_then_name() -> None:
    registry = Registry(
        [toy("a_report", layer="gold"), toy("z_raw", layer="bronze"), toy("m_raw", layer="bronze")]
    )

    assert names(registry.build_order()) == ["m_raw", "z_raw", "a_report"]


def test_cycle_names_the_tables_in_it() -> None:
    registry = Registry(
        [toy("alpha", "gamma"), toy("beta", "alpha"), toy("gamma", "beta"), toy("standalone")]
    )

    with pytest.raises(DependencyCycleError) as caught:
        registry.build_order()

    message = str(caught.value)
    for name in ("alpha", "beta", "gamma"):
        assert name in message
    assert "standalone" not in message


def test_cycle_outside_the_targets_does_not_matter() -> None:
    registry = Registry([toy("alpha", "beta"), toy("beta", "alpha"), toy("standalone")])

    assert names(registry.build_order(["standalone"])) == ["standalone"]


def test_unknown_name_lists_known_tables() -> None:
    registry = Registry(DIAMOND)

    with pytest.raises(TableNotFoundError, match="toy_nope") as caught:
        registry.build_order(["toy_nope"])

    for table in DIAMOND:
        assert table.spec.name in str(caught.value)
    with pytest.raises(TableNotFoundError, match="toy_nope"):
        registry.get("toy_nope")


def test_a_table_is_found_by_its_name_or_its_layer_and_name() -> None:
    registry = Registry(DIAMOND)
    table = DIAMOND[0]

    assert registry.get(table.spec.qualified_name) is table
    with pytest.raises(TableNotFoundError):
        registry.get(f"nolayer.{table.spec.name}")


def test_unknown_upstream_names_the_table_that_declares_it() -> None:
    registry = Registry([toy("orders", "missing_table")])

    with pytest.raises(TableNotFoundError, match="missing_table") as caught:
        registry.build_order()

    message = str(caught.value)
    assert "upstream" in message and "orders" in message.replace("missing_table", "")


def test_duplicate_names_are_refused() -> None:
    first, second = toy("orders"), toy("orders")

    with pytest.raises(ValueError, match="Two tables are named 'orders'"):
        Registry([first, second])


def test_same_class_twice_is_one_table() -> None:
    orders = toy("orders")
    registry = Registry([orders, orders])

    assert len(registry) == 1
    assert "orders" in registry
    assert registry.get("orders") is orders


def test_discover_the_project_tables() -> None:
    registry = Registry.discover()

    assert isinstance(registry, Registry)
    for table in registry:
        assert issubclass(table, Table)
        assert table.__module__.startswith("etl.tables.")
        assert isinstance(table.__dict__["spec"], TableSpec)
        assert registry.get(table.spec.name) is table
    registry.build_order()  # the project's own tables form no cycle and name no unknown table


TABLE_MODULE = """
from etl.core import Table, TableSpec


class {cls}(Table):
    spec = TableSpec(name="{name}", grain="g", primary_keys=("id",){declared})
"""


@pytest.fixture
def tables_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A fresh, uniquely named package on sys.path, unloaded again afterwards."""
    package = f"toy_tables_{uuid.uuid4().hex[:8]}"
    root = tmp_path / package
    root.mkdir()
    (root / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package, root
    for module in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        del sys.modules[module]


def _write_table(
    folder: Path, name: str, *, layer: str | None = None, upstream: tuple[str, ...] = ()
) -> None:
    """A table file in `folder`; its spec declares `layer` only when given."""
    folder.mkdir(exist_ok=True)
    declared = (f", layer={layer!r}" if layer else "") + (
        f", upstream={upstream!r}" if upstream else ""
    )
    source = TABLE_MODULE.format(cls=name.title(), name=name, declared=declared)
    (folder / f"{name}.py").write_text(source)


def test_discover_finds_tables_in_layer_packages(tables_package: tuple[str, Path]) -> None:
    package, root = tables_package
    for layer in ("bronze", "silver"):
        (root / layer).mkdir()
        (root / layer / "__init__.py").write_text("")
    _write_table(root / "bronze", "raw_orders")
    _write_table(root / "silver", "orders", upstream=("raw_orders",))

    registry = Registry.discover(package)

    assert names(registry.build_order()) == ["raw_orders", "orders"]
    assert ToyOrders not in list(registry), "tables outside the package are not picked up"


def test_discover_finds_tables_in_layer_folders_without_init(
    tables_package: tuple[str, Path],
) -> None:
    """etl/tables/bronze|silver|gold are plain folders today; their tables must not vanish."""
    package, root = tables_package
    _write_table(root / "bronze", "raw_orders")

    registry = Registry.discover(package)

    assert "raw_orders" in registry


def test_a_table_is_in_the_layer_of_its_folder(tables_package: tuple[str, Path]) -> None:
    package, root = tables_package
    _write_table(root / "gold", "report")
    _write_table(root / "silver", "orders", layer="silver")

    registry = Registry.discover(package)

    assert registry.get("report").spec.qualified_name == "gold.report"
    assert registry.get("orders").spec.layer == "silver", "a declared layer that agrees is fine"


def test_a_layer_that_disagrees_with_the_folder_is_refused(
    tables_package: tuple[str, Path],
) -> None:
    package, root = tables_package
    _write_table(root / "gold", "orders", layer="silver")

    with pytest.raises(ConfigError) as refused:
        Registry.discover(package)

    message = str(refused.value)
    assert "layer 'silver'" in message and "folder 'gold'" in message
    assert str(root / "gold" / "orders.py") in message


def test_a_table_outside_layer_folders_must_declare_its_layer(
    tables_package: tuple[str, Path],
) -> None:
    package, root = tables_package
    _write_table(root / "marts", "report")

    with pytest.raises(TypeError, match=r"not in a layer folder \(bronze, silver, gold\)"):
        Registry.discover(package)
