"""The whole pipeline on the native cluster with the lake on S3, against the same run locally.

    python -m benchmarks.cluster --scale 10

Generates and loads the data once into a throwaway Postgres, and starts a native stack of
its own (Spark master and two workers, SeaweedFS) in the run's temporary folder on free
ports (none of it timed). Each round runs every table into an empty local warehouse on the
local profile, then on the cluster with the lake on S3, as the `cluster` profile runs it.
Starting Spark, its executors and their Python workers is not timed: a user pays that once
per process whatever the data size. Each run has a process of its own, as `rainforest run`
has: no run inherits a JVM that another run warmed up.

Prints `seconds=X rows=Y` (the median local time, Y the rows written over all tables) and
`cluster_seconds=X cluster_ratio=Y`: the median cluster time, and the median over rounds of
cluster time over local time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from benchmarks._runs import TimedRun, run_in_own_process
from benchmarks._upstream import BenchmarkDatabase, upstream_database
from etl.core.settings import Settings
from etl.services.settings import STACK_BUCKET, ServiceSettings
from etl.services.stack import NativeStack
from etl.services.state import free_port_pair, free_ports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians print")
    args = parser.parse_args()

    local_runs: list[TimedRun] = []
    cluster_runs: list[TimedRun] = []
    with (
        upstream_database(scale=args.scale, seed=args.seed) as upstream,
        _native_cluster(upstream) as on_cluster,
    ):
        for round_number in range(args.rounds):
            warehouse = f"lakehouse-{round_number}"
            local = Settings(warehouse=str(upstream.folder / warehouse))
            local_runs.append(run_in_own_process(local, upstream, label="local"))
            cluster = on_cluster(f"s3://{STACK_BUCKET}/{warehouse}")
            cluster_runs.append(run_in_own_process(cluster, upstream, label="cluster"))
    local_seconds = statistics.median(run.seconds for run in local_runs)
    print(f"seconds={local_seconds:.1f} rows={sum(local_runs[0].rows.values())}")
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
