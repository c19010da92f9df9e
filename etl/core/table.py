"""The base table: the steps every table shares, so a concrete table is metadata plus `transform`.

Example, a whole table file::

    class DailyOrderMetrics(Table):
        \"\"\"One row per order date.\"\"\"

        spec = TableSpec(
            name="daily_order_metrics",
            layer="gold",
            grain="one row per order date",
            primary_keys=("order_date",),
            upstream=("fact_orders",),
        )

        def transform(self, fact_orders: DataFrame) -> DataFrame:
            return fact_orders.groupBy("order_date").agg(F.sum("total_price_usd"))
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core.dataset import ETLDataSet, TableSpec
from etl.core.errors import DataQualityError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from etl.core.lake import Lake, WriteResult
    from etl.core.registry import Registry
    from etl.core.settings import Settings

MAX_EXAMPLES = 5


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """What every table of one run shares: the session, the storage and the run's identity."""

    spark: SparkSession
    settings: Settings
    lake: Lake
    registry: Registry
    run_id: str
    run_ts: datetime


class Table:
    """Base of every table. Subclasses set `spec` and implement `transform`.

    `transform` takes one DataFrame per upstream table, as keyword arguments named after
    those tables, and returns the table's DataFrame. It must not do I/O: reading and
    writing belong to `extract` and `write`, which the base class provides.
    """

    spec: ClassVar[TableSpec]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "spec" in cls.__dict__:
            _check_transform_signature(cls)

    def __init__(self, context: RunContext) -> None:
        self.context = context

    @property
    def storage_path(self) -> str:
        return self.context.settings.table_uri(self.spec.layer, self.spec.name)

    def extract(self) -> dict[str, DataFrame]:
        """Each upstream table's current data, by name.

        Reads what is in the lake; the pipeline has built every upstream table earlier in
        the same run, so this never triggers a second build.
        """
        registry = self.context.registry
        return {
            name: registry.get(name)(self.context).read().curr_data for name in self.spec.upstream
        }

    def transform(self, **upstream: DataFrame) -> DataFrame:
        raise NotImplementedError(f"{type(self).__name__} must implement transform()")

    def validate(self, dataset: ETLDataSet) -> ETLDataSet:
        """Stop the table when its primary key is null or not unique.

        One aggregate job checks both; examples of offending keys are fetched only on failure.
        """
        keys = list(dataset.primary_keys)
        data = dataset.curr_data
        any_key_null = functools.reduce(operator.or_, [F.col(k).isNull() for k in keys])
        counts = data.agg(
            F.count(F.lit(1)).alias("rows"),
            F.count_distinct(F.struct(*keys)).alias("distinct_keys"),
            F.count_if(any_key_null).alias("null_keys"),
        ).first()
        assert counts is not None
        null_keys = counts["null_keys"] or 0
        if null_keys:
            raise DataQualityError(
                f"{dataset.spec.qualified_name}: {null_keys} rows have a null primary key "
                f"({', '.join(keys)}). Fix the transform or filter those rows upstream."
            )
        duplicates = counts["rows"] - counts["distinct_keys"]
        if duplicates:
            examples = (
                data.groupBy(*keys).count().filter(F.col("count") > 1).limit(MAX_EXAMPLES).collect()
            )
            shown = "; ".join(
                ", ".join(f"{k}={row[k]!r}" for k in keys) + f" ({row['count']}x)"
                for row in examples
            )
            raise DataQualityError(
                f"{dataset.spec.qualified_name}: primary key ({', '.join(keys)}) is not unique: "
                f"{duplicates} duplicate rows, e.g. {shown}. Deduplicate in the transform."
            )
        return dataset

    def write(self, dataset: ETLDataSet) -> WriteResult:
        return self.context.lake.write(
            dataset.curr_data,
            dataset.storage_path,
            mode=self.spec.mode,
            partition_by=self.spec.partition_by,
            table_format=self.spec.data_format,
        )

    def read(
        self,
        *,
        partition_values: Mapping[str, object] | None = None,
        version: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> ETLDataSet:
        """The latest partition by default, or the given partition values, or a Delta version.

        "Latest" is the greatest partition value tuple in the current snapshot, which for
        tables partitioned by ingestion time is the newest snapshot. Unpartitioned tables
        are read whole.
        """
        lake = self.context.lake
        fmt = self.spec.data_format
        if partition_values is None and self.spec.partition_by and version is None:
            present = lake.partition_values(self.storage_path, table_format=fmt)
            if present:
                order = self.spec.partition_by
                partition_values = max(present, key=lambda p: tuple(p[k] for k in order))
        data = lake.read(
            self.storage_path,
            version=version,
            columns=columns,
            partition_values=partition_values,
            table_format=fmt,
        )
        return ETLDataSet(spec=self.spec, curr_data=data, storage_path=self.storage_path)

    def run(self) -> WriteResult:
        """Extract, transform, validate and write: the table's whole build.

        The transformed data is persisted for the length of the build, so that validation
        and the write read it once from its sources rather than twice (for a JDBC extract,
        twice could even see different rows).
        """
        data = self.transform(**self.extract()).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            dataset = ETLDataSet(spec=self.spec, curr_data=data, storage_path=self.storage_path)
            dataset = self.validate(dataset)
            return self.write(dataset)
        finally:
            data.unpersist()


def _check_transform_signature(cls: type[Table]) -> None:
    """Fail at import time when `transform`'s parameters and `spec.upstream` disagree.

    Only where the default `extract` feeds `transform`; a table with its own `extract`
    names its own inputs.
    """
    if cls.transform is Table.transform or cls.extract is not Table.extract:
        return
    parameters = inspect.signature(cls.transform).parameters
    declared = {
        name
        for name, p in parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    upstream = set(cls.spec.upstream)
    if declared != upstream and not (accepts_any and declared <= upstream):
        raise TypeError(
            f"{cls.__name__}.transform takes {sorted(declared)} but spec.upstream is "
            f"{sorted(upstream)}: name one parameter after each upstream table."
        )
