"""What the quality checks cost: the whole pipeline with and without them, in one process.

    python -m benchmarks.dq --scale 1

Loads scale-N data once into a throwaway Postgres, starts Spark once, then runs every table
into an empty warehouse without checks (`RunContext(check_quality=False)`: not even primary
keys), and again into another empty warehouse with every rule, results and Data Docs. The
run without checks goes first, so the checked run pays Great Expectations' import, as a user
does. The last line is `dq_overhead=X`, the checked run's seconds over the unchecked one's.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from benchmarks._upstream import upstream_database
from etl.cli._progress import ProgressPrinter
from etl.core.pipeline import new_context, run_pipeline
from etl.core.registry import Registry
from etl.core.session import build_session
from etl.core.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    seconds: dict[bool, float] = {}
    with upstream_database(scale=args.scale, seed=args.seed) as upstream:
        spark = build_session(
            Settings(warehouse=str(upstream.folder / "unused")),
            app_name="dq-benchmark",
        )
        registry = Registry.discover()
        for checked in (False, True):
            folder = upstream.folder / ("lakehouse-checked" if checked else "lakehouse-unchecked")
            settings = Settings(warehouse=str(folder))
            context = dataclasses.replace(
                new_context(spark, settings, registry, upstream=upstream.upstream),
                check_quality=checked,
            )
            started = time.perf_counter()
            printer = ProgressPrinter()
            summary = run_pipeline(context, on_event=printer)
            seconds[checked] = time.perf_counter() - started
            printer.close()
            if not summary.ok:
                raise SystemExit(f"the run failed: {[o.name for o in summary.failures()]}")
            print(f"{'with' if checked else 'without'} checks: {seconds[checked]:.1f} s")
        spark.stop()
    print(f"dq_overhead={seconds[True] / seconds[False]:.2f}")


if __name__ == "__main__":
    main()
