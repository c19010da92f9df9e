"""Where quality outcomes go: `<warehouse>/ops/dq_results`, the quarantine tables, Data Docs.

A run collects every table's results in its `QualityLog` and publishes them once at its end:
one append to `ops/dq_results` and one Data Docs build, rather than a small write per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from etl.core.lake.storage import local_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from etl.core.lake import Lake
    from etl.core.quality.rules import Rule, RuleResult
    from etl.core.settings import Settings

RESULTS_TABLE = "dq_results"
RESULTS_SCHEMA = (
    "run_id string, run_ts timestamp, table string, rule string, severity string, "
    "expectation string, success boolean, observed_value string, unexpected_count bigint, "
    "element_count bigint, description string"
)
RUN_ID = "dq_run_id"
RUN_TS = "dq_run_ts"


def results_uri(settings: Settings) -> str:
    return settings.table_uri("ops", RESULTS_TABLE)


def quarantine_uri(settings: Settings, table: str) -> str:
    return settings.table_uri("quarantine", table)


def data_docs_folder(settings: Settings) -> Path:
    """Beside the tables on a local warehouse; in the state folder when the lake is on S3."""
    if settings.warehouse_is_local:
        return Path(local_path(settings.warehouse_uri)) / "ops" / "data_docs"
    return settings.state_dir / "data_docs"


@dataclass
class QualityLog:
    """Every table's rules and results of one run, published together at its end."""

    tables: list[tuple[str, tuple[Rule, ...], tuple[RuleResult, ...]]] = field(default_factory=list)

    def add(self, table: str, rules: Sequence[Rule], results: Sequence[RuleResult]) -> None:
        self.tables.append((table, tuple(rules), tuple(results)))

    def results(self) -> list[RuleResult]:
        return [result for _, _, results in self.tables for result in results]

    def publish(
        self,
        spark: SparkSession,
        lake: Lake,
        settings: Settings,
        *,
        run_id: str,
        run_ts: datetime,
    ) -> Path | None:
        """Append the results to `ops/dq_results` and build Data Docs; returns the docs index."""
        if not self.tables:
            return None
        from etl.core.quality.gx import build_data_docs

        rows = [(run_id, run_ts, *_values(result)) for result in self.results()]
        results = spark.createDataFrame(rows, RESULTS_SCHEMA)
        lake.write(results, results_uri(settings), mode="append")
        tables, self.tables = self.tables, []
        return build_data_docs(data_docs_folder(settings), tables, run_id=run_id, run_ts=run_ts)


def with_run(quarantine: DataFrame, *, run_id: str, run_ts: datetime) -> DataFrame:
    """The quarantined rows stamped with the run that set them aside."""
    from pyspark.sql import functions as F

    return quarantine.withColumns({RUN_ID: F.lit(run_id), RUN_TS: F.lit(run_ts).cast("timestamp")})


def _values(result: RuleResult) -> tuple[object, ...]:
    fields = asdict(result)
    return tuple(
        fields[name]
        for name in (
            "table",
            "rule",
            "severity",
            "expectation",
            "success",
            "observed_value",
            "unexpected_count",
            "element_count",
            "description",
        )
    )
