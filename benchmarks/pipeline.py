"""The whole pipeline, timed on scale-N upstream data.

    python -m benchmarks.pipeline --scale 10
    python -m benchmarks.pipeline --scale 10 --compare-cluster

Generates and loads the data once into a throwaway Postgres (not timed), starts Spark, its
executors and their Python workers (not timed: a user pays that once per process whatever
the data size), then times one complete run of every table into an empty local warehouse on
the local profile. The last line is `seconds=X rows=Y`, Y being the rows written over all
tables. Each run has a process of its own, as `rainforest run` has: no run inherits a JVM
that another run warmed up.

With `--compare-cluster`, a native stack of its own (Spark master and two workers, SeaweedFS)
starts in the run's temporary folder on free ports (not timed), each round also runs
on the cluster with the lake on S3, as the `cluster` profile runs it, right after the local
run, and the last line is `cluster_seconds=X cluster_ratio=Y`: the median cluster time, and
the median over rounds of cluster time over local time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from pyspark.sql import SparkSession

from benchmarks._upstream import BenchmarkDatabase, upstream_database
from etl.cli._progress import ProgressPrinter
from etl.core.pipeline import new_context, run_pipeline
from etl.core.registry import Registry
from etl.core.session import build_session
from etl.core.settings import Settings
from etl.services.settings import STACK_BUCKET, ServiceSettings
from etl.services.stack import WORKERS, NativeStack
from etl.services.state import free_port_pair, free_ports

EXECUTOR_WAIT_S = 60


@dataclass(frozen=True)
class TimedRun:
    seconds: float
    rows: dict[str, int]
    """Rows written per table: both runs must agree."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians print")
    parser.add_argument(
        "--compare-cluster",
        action="store_true",
        help="also run on a native cluster with the lake on SeaweedFS and print the ratio",
    )
    args = parser.parse_args()

    local_runs: list[TimedRun] = []
    cluster_runs: list[TimedRun] = []
    with (
        upstream_database(scale=args.scale, seed=args.seed) as upstream,
        _native_cluster(upstream) if args.compare_cluster else nullcontext() as on_cluster,
    ):
        for round_number in range(args.rounds):
            warehouse = f"lakehouse-{round_number}"
            local = Settings(warehouse=str(upstream.folder / warehouse))
            local_runs.append(_in_own_process(local, upstream, label="local"))
            if on_cluster is not None:
                cluster = on_cluster(f"s3://{STACK_BUCKET}/{warehouse}")
                cluster_runs.append(_in_own_process(cluster, upstream, label="cluster"))
    local_seconds = statistics.median(run.seconds for run in local_runs)
    print(f"seconds={local_seconds:.1f} rows={sum(local_runs[0].rows.values())}")
    if cluster_runs:
        for cluster_run in cluster_runs:
            if cluster_run.rows != local_runs[0].rows:
                expected = local_runs[0].rows
                differing = sorted(n for n in expected if expected[n] != cluster_run.rows.get(n))
                raise SystemExit(f"the cluster run wrote other row counts for {differing}")
        ratios = [c.seconds / r.seconds for c, r in zip(cluster_runs, local_runs, strict=True)]
        print(
            f"cluster_seconds={statistics.median(run.seconds for run in cluster_runs):.1f} "
            f"cluster_ratio={statistics.median(ratios):.2f}"
        )


def _in_own_process(settings: Settings, upstream: BenchmarkDatabase, *, label: str) -> TimedRun:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as process:
        return process.submit(_timed_run, settings, upstream, label=label).result()


def _timed_run(settings: Settings, upstream: BenchmarkDatabase, *, label: str) -> TimedRun:
    spark = build_session(settings, app_name=f"pipeline-benchmark-{label}")
    try:
        on_cluster = not settings.spark_master.startswith("local")
        _start_executors(spark, expected=WORKERS if on_cluster else 0)
        context = new_context(spark, settings, Registry.discover(), upstream=upstream.upstream)
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


@contextmanager
def _native_cluster(upstream: BenchmarkDatabase) -> Iterator[Callable[[str], ServiceSettings]]:
    """A stack started in the benchmark's folder; yields the `cluster` profile's settings for a
    given warehouse on its S3 server."""
    master, master_ui, history, s3 = free_ports(4)
    values: dict[str, object] = {
        "profile": "cluster",
        "state_dir": upstream.folder / "state",
        "pg_dsn": upstream.dsn,
        "stack_master_port": master,
        "stack_master_ui_port": master_ui,
        "stack_history_port": history,
        "stack_s3_port": s3,
        "stack_worker_ui_port": free_port_pair(exclude=(master, master_ui, history, s3)),
    }
    stack = NativeStack(ServiceSettings(_env_file=None, **values))  # type: ignore[call-arg]
    started = time.perf_counter()
    stack.up()
    try:
        print(f"native stack up in {time.perf_counter() - started:.1f} s", flush=True)
        # Built after `up`: the profile picks up the S3 credentials `up` generated.
        yield lambda warehouse: ServiceSettings(  # type: ignore[call-arg]
            _env_file=None, **values, warehouse=warehouse
        )
    finally:
        stack.down()


if __name__ == "__main__":
    main()
