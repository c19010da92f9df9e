"""Finds table classes and orders them into a build plan.

The registry is a value, not a global: the pipeline gets one, and tests build small
ones from toy tables without Spark.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from etl.core.dataset import TABLE_LAYERS
from etl.core.errors import ConfigError, DependencyCycleError, TableNotFoundError
from etl.core.table import Table

DEFAULT_TABLES_PACKAGE = "etl.tables"


class Registry:
    """Table classes by name; names are unique across layers."""

    def __init__(self, tables: Iterable[type[Table]] = ()) -> None:
        self._tables: dict[str, type[Table]] = {}
        for table in tables:
            self.add(table)

    @classmethod
    def discover(cls, package: str = DEFAULT_TABLES_PACKAGE) -> Registry:
        """Every `Table` subclass with a `spec`, defined in any module under `package`.

        A table's file sits in the folder of its layer (`<package>/silver/dim_buyer.py`); a
        table declaring another layer than its folder is refused, since one of the two is a
        mistake and the warehouse path would follow the wrong one.
        """
        root = importlib.import_module(package)
        files: dict[str, Path] = {}
        for folder in map(Path, root.__path__):
            # Walk files, not packages: a layer folder without __init__.py must not
            # silently hide its tables.
            for path in sorted(folder.rglob("*.py")):
                parts = path.relative_to(folder).with_suffix("").parts
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                if parts:
                    module = ".".join((package, *parts))
                    importlib.import_module(module)
                    files[module] = path
        found = [
            table
            for table in _all_subclasses(Table)
            if "spec" in table.__dict__ and table.__module__ in files
        ]
        for table in found:
            _check_layer_folder(table, files[table.__module__])
        return cls(sorted(found, key=lambda t: t.spec.name))

    def add(self, table: type[Table]) -> None:
        name = table.spec.name
        existing = self._tables.get(name)
        if existing is not None and existing is not table:
            raise ValueError(
                f"Two tables are named {name!r}: {existing.__module__}.{existing.__qualname__} "
                f"and {table.__module__}.{table.__qualname__}; rename one."
            )
        self._tables[name] = table

    def get(self, name: str) -> type[Table]:
        """The table named `name`, bare (`orders`) or qualified by its layer (`silver.orders`)."""
        layer, _, bare = name.rpartition(".")
        try:
            table = self._tables[bare]
            if layer and layer != table.spec.placed_layer:
                raise KeyError(name)
            return table
        except KeyError:
            raise TableNotFoundError(
                f"No table named {name!r}. Known tables: {', '.join(sorted(self._tables))}. "
                "List them with `rainforest tables`."
            ) from None

    def __iter__(self) -> Iterator[type[Table]]:
        return iter(self._tables.values())

    def __len__(self) -> int:
        return len(self._tables)

    def __contains__(self, name: object) -> bool:
        return name in self._tables

    def downstream(self, name: str) -> list[type[Table]]:
        """The tables that read `name`, directly or through others, in build order."""
        reached = {self.get(name).spec.name}
        found = []
        for table in self.build_order():
            if reached & set(table.spec.upstream):
                reached.add(table.spec.name)
                found.append(table)
        return found

    def build_order(self, targets: Iterable[str] = ()) -> list[type[Table]]:
        """The targets and everything they need, each once, every table after its upstream.

        No targets means every table. Ties keep a stable order (layer, then name), so
        runs are reproducible.
        """
        if isinstance(targets, str):
            raise TypeError("targets is a collection of table names, not one name")
        needed: dict[str, type[Table]] = {}
        stack = [self.get(name) for name in targets] or list(self._tables.values())
        while stack:
            table = stack.pop()
            if table.spec.name in needed:
                continue
            needed[table.spec.name] = table
            for name in table.spec.upstream:
                if name not in self._tables:
                    raise TableNotFoundError(
                        f"{table.spec.qualified_name} declares upstream {name!r}, but no table "
                        f"has that name. Known tables: {', '.join(sorted(self._tables))}."
                    )
                stack.append(self._tables[name])
        sorter = TopologicalSorter({name: t.spec.upstream for name, t in needed.items()})
        try:
            sorter.prepare()
        except CycleError as error:
            cycle = " -> ".join(error.args[1])
            raise DependencyCycleError(
                f"Tables depend on each other in a cycle: {cycle}. "
                "Remove one of these upstream declarations."
            ) from None
        layer_rank = {layer: rank for rank, layer in enumerate(TABLE_LAYERS)}
        order: list[type[Table]] = []
        while sorter.is_active():
            ready = sorted(
                (needed[name] for name in sorter.get_ready()),
                key=lambda t: (layer_rank.get(t.spec.layer, 9), t.spec.name),
            )
            order.extend(ready)
            sorter.done(*(t.spec.name for t in ready))
        return order


def _check_layer_folder(table: type[Table], path: Path) -> None:
    folder = path.parent.name
    if table.spec.layer != folder:
        raise ConfigError(
            f"{path}: table {table.spec.name!r} declares layer {table.spec.layer!r} but its file "
            f"sits in folder {folder!r}. The folder is the layer: move the file to the folder of "
            f"its layer ({', '.join(TABLE_LAYERS)}), or drop layer= from its spec."
        )


def _all_subclasses(cls: type[Table]) -> Iterator[type[Table]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)
