"""What a table declares about itself (`TableSpec`) and the data it carries (`ETLDataSet`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, get_args

from etl.core.names import check_snake_case
from etl.core.quality.rules import primary_key_rules
from etl.core.strategy import Strategy

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from etl.core.lake.commit import WriteMode
    from etl.core.lake.snapshot import TableFormat
    from etl.core.quality.rules import Rule

TableLayer = Literal["bronze", "silver", "gold"]
"""The layers tables are built in; each is a folder of table files."""
TABLE_LAYERS: tuple[TableLayer, ...] = get_args(TableLayer)
Layer = TableLayer | Literal["interface", "quarantine", "ops"]
"""Every top-level folder of the warehouse."""


@dataclass(frozen=True, kw_only=True)
class TableSpec:
    """Everything particular to a table except its transform, declared once beside it.

    `layer` is the folder the table's file sits in (`etl/tables/<layer>/`), filled in when the
    table class is defined; declare it only for a table defined elsewhere. `upstream` names
    the tables whose data `transform` receives, as keyword arguments of the same names; the
    pipeline builds them first. `rules` are the table's quality rules
    (`etl.core.quality`); a rule that looks into another table (`references`, `sum_of`) names
    an upstream table, which `transform` then need not take. `strategy` says how builds carry
    on from the last one (`etl.core.strategy`; default: recompute the whole table);
    `by_date(column)` partitions the table by that column. `zorder_by` names columns that
    `rainforest maintain` clusters the files by (Z-order), for tables often filtered on them.
    `column_descriptions` documents the columns.
    """

    name: str
    layer: TableLayer | None = None
    grain: str
    primary_keys: tuple[str, ...]
    upstream: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    mode: WriteMode = "overwrite"
    data_format: TableFormat = "delta"
    description: str = ""
    rules: tuple[Rule, ...] = ()
    strategy: Strategy = field(default_factory=Strategy)
    zorder_by: tuple[str, ...] = ()
    column_descriptions: Mapping[str, str] = field(default_factory=dict, hash=False)
    """What each column means, by name, for the docs site (`rainforest docs`); columns left
    out are shown as undocumented."""

    def __post_init__(self) -> None:
        check_snake_case(self.name, what="Table name")
        if not self.primary_keys:
            raise ValueError(f"Table {self.name!r} must declare its primary keys")
        if self.mode == "overwrite_partitions" and not self.partition_by:
            raise ValueError(f"Table {self.name!r}: overwrite_partitions needs partition_by")
        if self.name in self.upstream:
            raise ValueError(f"Table {self.name!r} cannot be its own upstream")
        clustered = [name for name in self.zorder_by if name in self.partition_by]
        if clustered:
            raise ValueError(
                f"Table {self.name!r}: {clustered} are partition columns; Z-order other columns."
            )
        names = [rule.name for rule in self.all_rules]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"Table {self.name!r} declares rules {repeated} more than once")
        for rule in self.rules:
            missing = [t for t in rule.needs if t not in self.upstream]
            if missing:
                raise ValueError(
                    f"Table {self.name!r}: rule {rule.name!r} looks into {missing}; "
                    "add them to upstream."
                )
        self._check_strategy()

    def _check_strategy(self) -> None:
        strategy = self.strategy
        if not strategy.incremental:
            return
        where = f"Table {self.name!r}: strategy {strategy.describe()}"
        if not self.upstream:
            raise ValueError(f"{where} needs an upstream table to carry on from.")
        unknown = [name for name, _ in strategy.via if name not in self.upstream]
        if unknown:
            raise ValueError(f"{where} traces changes of {unknown}; add them to upstream.")
        if strategy.kind == "merge" and strategy.on not in self.primary_keys:
            raise ValueError(f"{where} must merge on one of its primary keys {self.primary_keys}.")
        if strategy.kind == "by_date":
            if not self.partition_by:
                object.__setattr__(self, "partition_by", (strategy.on,))
            elif self.partition_by != (strategy.on,):
                raise ValueError(f"{where} is partitioned by {strategy.on!r} alone.")

    @property
    def all_rules(self) -> tuple[Rule, ...]:
        """The primary key's checks (not null, unique; both fail), then the declared rules."""
        return (*primary_key_rules(self.primary_keys), *self.rules)

    @property
    def rule_inputs(self) -> tuple[str, ...]:
        """Upstream tables that rules look into."""
        return tuple(dict.fromkeys(t for rule in self.rules for t in rule.needs))

    def in_layer(self, layer: TableLayer) -> TableSpec:
        """The same spec placed in `layer`."""
        return replace(self, layer=layer)

    @property
    def placed_layer(self) -> TableLayer:
        """The layer, which every table class has (from its folder or declared)."""
        if self.layer is None:
            raise ValueError(
                f"Table {self.name!r} has no layer: define it in a layer folder "
                f"({', '.join(TABLE_LAYERS)}) or declare layer= in its spec."
            )
        return self.layer

    @property
    def database(self) -> str:
        """The catalog database the table belongs to: its layer."""
        return self.placed_layer

    @property
    def qualified_name(self) -> str:
        return f"{self.placed_layer}.{self.name}"


@dataclass(frozen=True, kw_only=True)
class ETLDataSet:
    """A table's current data together with the metadata needed to validate and store it."""

    spec: TableSpec
    curr_data: DataFrame
    storage_path: str
    version: int | None = field(default=None)
    rows: int | None = field(default=None)
    """How many rows `curr_data` holds, when a check already counted them (None: unknown)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def primary_keys(self) -> tuple[str, ...]:
        return self.spec.primary_keys

    @property
    def partition_keys(self) -> tuple[str, ...]:
        return self.spec.partition_by

    @property
    def data_format(self) -> TableFormat:
        return self.spec.data_format

    @property
    def database(self) -> str:
        return self.spec.database
