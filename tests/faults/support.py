"""What the fault suite shares: `rainforest` runs as separate processes, killed or starved
of a service at a chosen moment, and the checks that nothing was lost or corrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from psycopg2 import sql
from pyspark.sql import SparkSession

from datagen import SCHEMA, advance
from datagen.load import Generation
from etl.core.lake.encoding import file_path
from etl.core.lake.snapshot import open_delta
from etl.core.lake.storage import Storage
from etl.core.lock import LOCK_TABLE
from etl.core.pipeline import new_context, run_pipeline
from etl.core.quality.results import RESULTS_TABLE, quarantine_uri
from etl.core.registry import Registry
from etl.core.runlog import RUNS_TABLE
from etl.core.settings import Settings
from etl.core.source_table import SourceTable
from etl.core.upstream import connect
from tests.e2e.reports import (
    CLEAN_CATEGORY_REPORT_SQL,
    CLEAN_ORDER_REPORT_SQL,
    category_report,
    clean_report_params,
    order_report,
    postgres_report,
    upstream_at,
)

RAINFOREST = Path(sys.executable).parent / "rainforest"
REGISTRY = Registry.discover()
TABLES = len(REGISTRY.build_order())
ORDER_REPORT = "gold.daily_order_metrics"
"""Seven tables: the order report and all it needs, for a test that needs no more."""
Event = dict[str, object]


@dataclass(frozen=True)
class Shop:
    """The upstream database and a folder for the warehouse a test builds from it."""

    dsn: str
    folder: Path
    environment: Mapping[str, str] = field(default_factory=dict)
    """Settings beside the defaults: an S3 warehouse's endpoint and keys, retry limits."""

    @property
    def warehouse(self) -> str:
        return self.environment.get("RAINFOREST_WAREHOUSE", str(self.folder / "lakehouse"))

    def settings(self) -> Settings:
        """The settings the runs have, for reading their lake in this process."""
        chosen = {
            name.removeprefix("RAINFOREST_").lower(): value
            for name, value in self.environment.items()
        }
        return Settings(
            spark_master="local[2]",
            spark_shuffle_partitions=2,
            **{"warehouse": self.warehouse, **chosen},
        )

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RAINFOREST_PG_DSN": self.dsn,
            "RAINFOREST_WAREHOUSE": self.warehouse,
            "RAINFOREST_SPARK_MASTER": "local[2]",
            "RAINFOREST_SPARK_SHUFFLE_PARTITIONS": "2",
            **self.environment,
        }

    def simulated_through(self) -> date:
        with connect(self.dsn) as conn, conn.cursor() as cursor:
            return Generation.read(cursor).simulated_through

    def advance(self) -> date:
        """A day of upstream changes: new rows, updates, late rows and deletes."""
        with connect(self.dsn) as conn:
            (day,) = advance(conn, days=1)
        return day.day


@dataclass(frozen=True)
class Run:
    """A `rainforest run` that ended: its exit code, its JSON events and its stderr."""

    returncode: int
    events: list[Event]
    stderr: str

    def of(self, kind: str) -> list[Event]:
        return [event for event in self.events if event["event"] == kind]

    def finished(self, status: str | None = None) -> set[str]:
        return {
            str(event["table"])
            for event in self.of("table_finished")
            if status is None or event["status"] == status
        }

    def explain(self) -> str:
        return "\n".join(json.dumps(event) for event in self.events) + "\n" + self.stderr[-4000:]


def run(shop: Shop, *args: str, timeout: float = 900) -> Run:
    """`rainforest run ARGS --log-format json`, to its end."""
    return run_until(shop, *args, timeout=timeout)


def run_until(
    shop: Shop,
    *args: str,
    when: Callable[[list[Event]], bool] | None = None,
    then: Callable[[subprocess.Popen[str]], None] | None = None,
    after_s: float = 0.0,
    timeout: float = 900,
) -> Run:
    """`rainforest run ARGS --log-format json`; once the events so far satisfy `when`, `then`
    is done to the process (after `after_s` seconds), once."""
    process = subprocess.Popen(
        [str(RAINFOREST), "run", *args, "--log-format", "json"],
        env=shop.env(),
        cwd=shop.folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(process.stderr or []), daemon=True)
    reader.start()
    events: list[Event] = []
    acted = False
    assert process.stdout is not None
    for line in process.stdout:
        events.append(json.loads(line))
        if not acted and when is not None and then is not None and when(events):
            acted = True
            threading.Timer(after_s, then, args=(process,)).start()
    process.wait(timeout=timeout)
    reader.join(timeout=10)
    return Run(returncode=process.returncode, events=events, stderr="".join(stderr))


def build(
    spark: SparkSession, shop: Shop, day: date, *targets: str, full_refresh: bool = False
) -> list[object]:
    """A run in this process (its JVM is warm, so it costs less than a command) of `targets`
    (default: every table): the run after a fault, or the one before it. Asserts that it
    built every table it had to; its events."""
    events: list[object] = []
    context = new_context(
        spark,
        shop.settings(),
        REGISTRY,
        upstream=upstream_at(shop.dsn),
        logical_date=day,
        full_refresh=full_refresh,
    )
    summary = run_pipeline(context, targets, on_event=events.append)
    assert summary.ok, [(o.name, o.message) for o in summary.failures()]
    return events


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL to the driver and everything it started (its JVM, Python workers), as when a
    machine loses power."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def started(table: str) -> Callable[[list[Event]], bool]:
    return lambda events: events[-1]["event"] == "table_started" and events[-1]["table"] == table


def finished_tables(count: int, layer: str = "") -> Callable[[list[Event]], bool]:
    def enough(events: list[Event]) -> bool:
        done = [
            e
            for e in events
            if e["event"] == "table_finished" and str(e["table"]).startswith(layer)
        ]
        return events[-1]["event"] == "table_finished" and len(done) == count

    return enough


def lake_tables(settings: Settings) -> list[str]:
    """Every table a run writes: the registry's, their quarantines, the operational ones."""
    return [
        *(table.uri_in(settings) for table in REGISTRY),
        *(quarantine_uri(settings, table.spec.name) for table in REGISTRY),
        *(settings.table_uri("ops", name) for name in (RUNS_TABLE, RESULTS_TABLE, LOCK_TABLE)),
    ]


def assert_every_table_opens(settings: Settings) -> dict[str, int]:
    """Every Delta table of the lake opens at a committed version whose files are all there
    and readable Parquet with the rows the log says; the version of each table there is."""
    storage = Storage.from_settings(settings)
    versions = {}
    for uri in lake_tables(settings):
        table = open_delta(uri, storage)
        if table is None:
            continue
        filesystem, root = storage.filesystem(uri)
        actions = pa.table(table.get_add_actions(flatten=True))
        for path, rows in zip(
            actions.column("path").to_pylist(),
            actions.column("num_records").to_pylist(),
            strict=True,
        ):
            with filesystem.open_input_file(f"{root}/{file_path(path)}") as data:
                assert pq.read_metadata(data).num_rows == rows, f"{uri}: {path} is damaged"
        versions[uri] = table.version()
    assert versions, f"no table in {settings.warehouse_uri}"
    return versions


def assert_reports_equal_postgres(
    spark: SparkSession, shop: Shop, day: date, *, categories: bool = True
) -> None:
    """Each bronze table the lake has holds as many rows as its upstream table, and the
    order report, and the category report unless the run left it out, equal SQL on the
    upstream database, computed independently: no row was lost or doubled."""
    context = new_context(
        spark, shop.settings(), REGISTRY, upstream=upstream_at(shop.dsn), logical_date=day
    )
    with connect(shop.dsn) as conn, conn.cursor() as cursor:
        for table_cls in REGISTRY:
            table = table_cls(context)
            if not isinstance(table, SourceTable) or not context.lake.exists(table.storage_path):
                continue
            cursor.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, table.spec.name))
            )
            (upstream_rows,) = cursor.fetchone()
            assert table.read().curr_data.count() == upstream_rows, table.spec.qualified_name
    params = clean_report_params(context.run_date_end)
    assert order_report(context) == postgres_report(shop.dsn, CLEAN_ORDER_REPORT_SQL, 1, params)
    if categories:
        assert category_report(context) == postgres_report(
            shop.dsn, CLEAN_CATEGORY_REPORT_SQL, 2, params
        )
