"""What a table declares about itself (`TableSpec`) and the data it carries (`ETLDataSet`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from etl.core.quality.rules import primary_key_rules

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from etl.core.quality.rules import Rule

Layer = Literal["bronze", "silver", "gold", "interface", "quarantine", "ops"]
WriteMode = Literal["overwrite", "append", "overwrite_partitions"]
TableFormat = Literal["delta", "parquet"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, kw_only=True)
class TableSpec:
    """Everything particular to a table except its transform, declared once beside it.

    `upstream` names the tables whose data `transform` receives, as keyword arguments
    of the same names; the pipeline builds them first. `rules` are the table's quality rules
    (`etl.core.quality`); a rule that looks into another table (`references`, `sum_of`) names
    an upstream table, which `transform` then need not take.
    """

    name: str
    layer: Layer
    grain: str
    primary_keys: tuple[str, ...]
    upstream: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    mode: WriteMode = "overwrite"
    data_format: TableFormat = "delta"
    description: str = ""
    rules: tuple[Rule, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"Table name {self.name!r} must be snake_case ([a-z][a-z0-9_]*)")
        if not self.primary_keys:
            raise ValueError(f"Table {self.name!r} must declare its primary keys")
        if self.mode == "overwrite_partitions" and not self.partition_by:
            raise ValueError(f"Table {self.name!r}: overwrite_partitions needs partition_by")
        if self.name in self.upstream:
            raise ValueError(f"Table {self.name!r} cannot be its own upstream")
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

    @property
    def all_rules(self) -> tuple[Rule, ...]:
        """The primary key's checks (not null, unique; both fail), then the declared rules."""
        return (*primary_key_rules(self.primary_keys), *self.rules)

    @property
    def rule_inputs(self) -> tuple[str, ...]:
        """Upstream tables that rules look into."""
        return tuple(dict.fromkeys(t for rule in self.rules for t in rule.needs))

    @property
    def database(self) -> str:
        """The catalog database the table belongs to: its layer."""
        return self.layer

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}.{self.name}"


@dataclass(frozen=True, kw_only=True)
class ETLDataSet:
    """A table's current data together with the metadata needed to validate and store it."""

    spec: TableSpec
    curr_data: DataFrame
    storage_path: str
    version: int | None = field(default=None)

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
