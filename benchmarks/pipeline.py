"""The whole pipeline, timed on scale-N upstream data.

    python -m benchmarks.pipeline --scale 10

Generates and loads the data once into a throwaway Postgres (not timed), starts Spark (not
timed: a user pays it once per process whatever the data size), then times one complete
run of every table into an empty local warehouse. The last line is `seconds=X rows=Y`, Y
being the rows written over all tables.
"""

from __future__ import annotations

import argparse
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

    with upstream_database(scale=args.scale, seed=args.seed) as upstream:
        settings = Settings(warehouse=str(upstream.folder / "lakehouse"))
        spark = build_session(settings, app_name="pipeline-benchmark")
        context = new_context(spark, settings, Registry.discover(), upstream=upstream.upstream)
        started = time.perf_counter()
        printer = ProgressPrinter()
        summary = run_pipeline(context, on_event=printer)
        seconds = time.perf_counter() - started
        printer.close()
        spark.stop()
    if not summary.ok:
        raise SystemExit(f"the run failed: {[o.name for o in summary.failures()]}")
    rows = sum(o.rows or 0 for o in summary.outcomes)
    print(f"seconds={seconds:.1f} rows={rows}")


if __name__ == "__main__":
    main()
