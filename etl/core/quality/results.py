"""Where quality outcomes go: `<warehouse>/ops/dq_results`, the quarantine tables, Data Docs.

A table's results are appended to `ops/dq_results` as soon as its rules are checked, so a run
that is killed keeps the results of every table it checked; the run's Data Docs are built
once at its end, from the results its `QualityLog` collected.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from etl.core.lake.records import append_records
from etl.core.lake.snapshot import open_delta
from etl.core.lake.storage import Storage, local_path
from etl.core.lake.versions import last_built_at

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from etl.core.quality.rules import Rule, RuleResult
    from etl.core.settings import Settings

RESULTS_TABLE = "dq_results"
RESULTS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("run_ts", pa.timestamp("us", tz="UTC")),
        ("table", pa.string()),
        ("rule", pa.string()),
        ("severity", pa.string()),
        ("expectation", pa.string()),
        ("success", pa.bool_()),
        ("observed_value", pa.string()),
        ("unexpected_count", pa.int64()),
        ("element_count", pa.int64()),
        ("description", pa.string()),
    ]
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


@dataclass(frozen=True, kw_only=True)
class QualityResults:
    """Appends one run's rule results to `ops/dq_results`, a commit per table, written in
    the driver (see `etl.core.lake.records`); tables checked at the same moment commit one
    after the other."""

    uri: str
    storage: Storage
    run_id: str
    run_ts: datetime
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def of_run(cls, settings: Settings, *, run_id: str, run_ts: datetime) -> QualityResults:
        return cls(
            uri=results_uri(settings),
            storage=Storage.from_settings(settings),
            run_id=run_id,
            run_ts=run_ts,
        )

    def append(self, table: str, results: Sequence[RuleResult]) -> None:
        if not results:
            return
        rows = [self._row(result) for result in results]
        with self._lock:
            append_records(
                self.uri,
                self.storage,
                pa.Table.from_pylist(rows, schema=RESULTS_SCHEMA),
                notes={"rainforest.run_id": self.run_id, "rainforest.table": table},
            )

    def _row(self, result: RuleResult) -> dict[str, object]:
        fields = asdict(result)
        named = {name: fields[name] for name in RESULTS_SCHEMA.names if name in fields}
        return {"run_id": self.run_id, "run_ts": self.run_ts, **named}


@dataclass
class QualityLog:
    """Every table's rules and results of one run: each table's results go to `destination`
    when they are known, and the run's Data Docs are built from all of them at its end."""

    tables: list[tuple[str, tuple[Rule, ...], tuple[RuleResult, ...]]] = field(default_factory=list)
    destination: QualityResults | None = None

    def add(self, table: str, rules: Sequence[Rule], results: Sequence[RuleResult]) -> None:
        """Keep `table`'s results for the Data Docs and append them to `destination`.

        Raises `LakeWriteError` when they cannot be appended: a table whose checks leave no
        record must not pass as checked."""
        self.tables.append((table, tuple(rules), tuple(results)))
        if self.destination is not None:
            self.destination.append(table, results)

    def results(self) -> list[RuleResult]:
        return [result for _, _, results in self.tables for result in results]

    def publish(self, settings: Settings, *, run_id: str, run_ts: datetime) -> Path | None:
        """Build the run's Data Docs; returns their index (None when no rule was checked)."""
        if not self.tables:
            return None
        from etl.core.quality.gx import build_data_docs

        tables, self.tables = self.tables, []
        return build_data_docs(data_docs_folder(settings), tables, run_id=run_id, run_ts=run_ts)


def forget_unfinished_quarantine(settings: Settings, table: str, table_uri: str) -> int:
    """Delete the quarantined rows of builds of `table` that never committed it; how many.

    A build appends its quarantined rows before it writes the table, in another commit; if
    the write then fails (and is retried) or the run is killed, the next build sets the same
    rows aside again. Runs hold the warehouse one at a time, so a build that committed the
    table started before its last run's commit, and rows stamped later than that commit
    belong to builds that never committed it.
    """
    storage = Storage.from_settings(settings)
    quarantine = open_delta(quarantine_uri(settings, table), storage)
    if quarantine is None:
        return 0
    built_at = last_built_at(table_uri, storage)
    if built_at is None:
        return 0
    # The predicate holds only a time this code made, in delta-rs's SQL; no user value.
    predicate = f"{RUN_TS} > '{built_at.astimezone(UTC).isoformat(timespec='microseconds')}'"
    deleted = quarantine.delete(predicate)
    return int(deleted.get("num_deleted_rows", 0))


def with_run(quarantine: DataFrame, *, run_id: str, run_ts: datetime) -> DataFrame:
    """The quarantined rows stamped with the run that set them aside."""
    from pyspark.sql import functions as F

    return quarantine.withColumns({RUN_ID: F.lit(run_id), RUN_TS: F.lit(run_ts).cast("timestamp")})
