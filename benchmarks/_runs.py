"""Timed pipeline runs, each in a fresh process as `rainforest run` has one: shared by benchmarks.

No run inherits a JVM that another run warmed up; starting Spark, its executors and their
Python workers is not timed, since a user pays it once per process whatever the data size.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date

from pyspark.sql import SparkSession

from benchmarks._upstream import BenchmarkDatabase
from etl.cli._progress import ProgressPrinter
from etl.core.pipeline import new_context, run_pipeline
from etl.core.registry import Registry
from etl.core.session import build_session
from etl.core.settings import Settings
from etl.services.stack import WORKERS

EXECUTOR_WAIT_S = 60


@dataclass(frozen=True)
class TimedRun:
    seconds: float
    rows: dict[str, int]
    """Rows written per table: runs that should agree are compared on it."""


def run_in_own_process(
    settings: Settings,
    upstream: BenchmarkDatabase,
    *,
    label: str,
    logical_date: date | None = None,
    full_refresh: bool = False,
) -> TimedRun:
    """One complete run of every table, timed, in a spawned process."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as process:
        return process.submit(
            _timed_run,
            settings,
            upstream,
            label=label,
            logical_date=logical_date,
            full_refresh=full_refresh,
        ).result()


def _timed_run(
    settings: Settings,
    upstream: BenchmarkDatabase,
    *,
    label: str,
    logical_date: date | None,
    full_refresh: bool,
) -> TimedRun:
    spark = build_session(settings, app_name=f"benchmark-{label}")
    try:
        on_cluster = not settings.spark_master.startswith("local")
        _start_executors(spark, expected=WORKERS if on_cluster else 0)
        context = new_context(
            spark,
            settings,
            Registry.discover(),
            upstream=upstream.upstream,
            logical_date=logical_date,
            full_refresh=full_refresh,
        )
        print(f"{label} run on {settings.spark_master}, lake at {settings.warehouse_uri}")
        started = time.perf_counter()
        printer = ProgressPrinter()
        summary = run_pipeline(context, on_event=printer)
        seconds = time.perf_counter() - started
        printer.close()
    finally:
        spark.stop()
    if not summary.ok:
        raise SystemExit(f"the {label} run failed: {[o.name for o in summary.failures()]}")
    print(f"{label}: {seconds:.1f} s", flush=True)
    return TimedRun(seconds=seconds, rows={o.name: o.rows or 0 for o in summary.outcomes})


def _start_executors(spark: SparkSession, *, expected: int) -> None:
    """Wait until the cluster's executors have registered, then start Python workers on them."""
    deadline = time.monotonic() + EXECUTOR_WAIT_S
    while spark.sparkContext._jsc.sc().getExecutorIds().size() < expected:  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            raise SystemExit(f"{expected} executors did not register within {EXECUTOR_WAIT_S} s")
        time.sleep(0.2)
    tasks = 4 * max(expected, 1)
    spark.range(tasks, numPartitions=tasks).mapInArrow(lambda batches: batches, "id long").collect()
