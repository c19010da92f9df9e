"""The run log: `<warehouse>/ops/runs`, one row per table per run, appended as the table ends.

Each table's row is committed the moment its build ends or it is skipped, so a run that is
killed still shows every table it finished, and a failed day can be read back without its
terminal output (`rainforest runs`). Rows are written in the driver (see
`etl.core.lake.records`): no Spark job per row, and the log is readable without a JVM.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from etl.core.errors import ConfigError
from etl.core.lake.records import append_records, read_records
from etl.core.lake.storage import Storage

if TYPE_CHECKING:
    from etl.core.settings import Settings

RUNS_TABLE = "runs"
_LONG_AGO = datetime.min.replace(tzinfo=UTC)

RUN_LOG_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("logical_date", pa.date32()),
        ("full_refresh", pa.bool_()),
        ("table", pa.string()),
        ("strategy", pa.string()),
        ("status", pa.string()),
        ("rows_read", pa.int64()),
        ("rows_in", pa.int64()),
        ("rows_written", pa.int64()),
        ("rows_changed", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("partitions_replaced", pa.int64()),
        ("versions_read", pa.map_(pa.string(), pa.int64())),
        ("version_written", pa.int64()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("seconds", pa.float64()),
        ("error_class", pa.string()),
        ("error_message", pa.string()),
        ("note", pa.string()),
        ("warnings", pa.list_(pa.string())),
        ("retries", pa.int64()),
    ]
)
"""The columns of `ops/runs`; `status` is `ok`, `failed`, `skipped` (an upstream table
failed) or `skipped (up to date)` (nothing it reads changed; the note says why)."""


@dataclass(frozen=True, kw_only=True)
class LoggedTable:
    """A row of the run log: one table's build in one run."""

    run_id: str
    logical_date: date
    full_refresh: bool
    table: str
    """Qualified: `layer.name`."""
    status: str
    strategy: str | None = None
    rows_read: int | None = None
    rows_in: int | None = None
    rows_written: int | None = None
    rows_changed: int | None = None
    rows_quarantined: int | None = None
    partitions_replaced: int | None = None
    versions_read: dict[str, int] = field(default_factory=dict)
    version_written: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float = 0.0
    error_class: str | None = None
    error_message: str | None = None
    note: str | None = None
    warnings: tuple[str, ...] = ()
    retries: int = 0
    """Attempts that failed for a transient reason and were made again (causes in warnings)."""


def runs_uri(settings: Settings) -> str:
    return settings.table_uri("ops", RUNS_TABLE)


@dataclass(frozen=True, kw_only=True)
class RunLog:
    """Appends one run's rows to the run log. Builds that end at the same moment commit one
    after the other (one lock), so a run never conflicts with itself."""

    uri: str
    storage: Storage
    run_id: str
    logical_date: date
    full_refresh: bool
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def of_run(
        cls, settings: Settings, *, run_id: str, logical_date: date, full_refresh: bool
    ) -> RunLog:
        return cls(
            uri=runs_uri(settings),
            storage=Storage.from_settings(settings),
            run_id=run_id,
            logical_date=logical_date,
            full_refresh=full_refresh,
        )

    def append(self, logged: LoggedTable) -> None:
        """Commit `logged`, a row of this run. Raises `LakeWriteError` when the log cannot be
        written."""
        row = {**asdict(logged), "versions_read": list(logged.versions_read.items())}
        with self._lock:
            append_records(
                self.uri,
                self.storage,
                pa.Table.from_pylist([row], schema=RUN_LOG_SCHEMA),
                notes={"rainforest.run_id": self.run_id},
            )


def read_run_log(settings: Settings) -> list[LoggedTable]:
    """Every row of the run log in the order the builds started; empty when no run has been
    logged yet."""
    rows = read_records(runs_uri(settings), Storage.from_settings(settings))
    if rows is None:
        return []
    known = {column.name for column in fields(LoggedTable)}
    logged = [
        LoggedTable(
            **{
                **{name: value for name, value in record.items() if name in known},
                "versions_read": dict(record["versions_read"] or []),
                "warnings": tuple(record["warnings"] or ()),
                "retries": record.get("retries") or 0,
            }
        )
        for record in rows.to_pylist()
    ]
    return sorted(logged, key=lambda row: row.started_at or row.finished_at or _LONG_AGO)


@dataclass(frozen=True, kw_only=True)
class Unfinished:
    """What a run left undone: the tables that failed or were skipped, for `--retry-failed`."""

    run_id: str
    logical_date: date
    full_refresh: bool
    tables: tuple[str, ...]
    """Unqualified names, in the order they were logged."""


def unfinished(settings: Settings, run_id: str) -> Unfinished:
    """The tables the run whose id starts with `run_id` did not build; `ConfigError` when no
    logged run, or more than one, matches."""
    rows = rows_of_run(read_run_log(settings), run_id)
    return Unfinished(
        run_id=rows[0].run_id,
        logical_date=rows[0].logical_date,
        full_refresh=rows[0].full_refresh,
        tables=tuple(
            row.table.rpartition(".")[2] for row in rows if row.status in ("failed", "skipped")
        ),
    )


def rows_of_run(logged: list[LoggedTable], run_id: str) -> list[LoggedTable]:
    """The rows of the one run whose id starts with `run_id`; `ConfigError` when no logged
    run, or more than one, matches."""
    runs = sorted({row.run_id for row in logged if row.run_id.startswith(run_id)})
    if len(runs) != 1:
        found = "no run" if not runs else f"{len(runs)} runs"
        raise ConfigError(
            f"{found} with an id starting {run_id!r} in the run log: "
            "`rainforest runs` lists the run ids."
        )
    return [row for row in logged if row.run_id == runs[0]]
