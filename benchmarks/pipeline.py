"""The whole pipeline against the job a data engineer would write by hand, on scale-N data.

    python -m benchmarks.pipeline --scale 1

Generates and loads the data once into a throwaway Postgres (not timed). Each round then
runs, one after the other, as separate processes:

- the baseline, `benchmarks.handwritten`: one sequential Spark job that extracts the 13
  upstream tables over JDBC, calls each silver and gold table's `transform` and writes
  Parquet with Spark's own writer; no checks, no Delta;
- `rainforest run --full-refresh` into an empty warehouse: every quality rule on, Delta,
  the run log, the quality results and the Data Docs. Its state folder is the benchmark's
  own: the first round's run builds what the framework adds to Spark's JVM (`etl.core.jvm`:
  the class archive, written as that run's JVM exits, and the local file system), as the
  first run on a machine does, and later rounds use them. `--stock-jvm` runs the framework in
  Spark's own JVM, as the baseline.

Each is timed from its process's start to its end, as a scheduler sees it: Python's imports
and Spark's start count for both. The driver's memory is sampled every 0.1 s: its Python
process plus the JVM it starts (in local mode the executors run inside that JVM).

Prints both medians and `framework_ratio` = the framework's median / the baseline's median,
and the driver's peak resident memory of each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchmarks._upstream import upstream_database

SAMPLE_EVERY_S = 0.1


@dataclass(frozen=True)
class Measured:
    seconds: float
    driver_peak_mb: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians print")
    parser.add_argument("--threads", type=int, help="the framework's --threads (default: its own)")
    parser.add_argument(
        "--stock-jvm", action="store_true", help="the framework without what it adds to the JVM"
    )
    args = parser.parse_args()

    baseline: list[Measured] = []
    framework: list[Measured] = []
    with upstream_database(scale=args.scale, seed=args.seed) as upstream:
        for round_number in range(args.rounds):
            folder = upstream.folder / f"round-{round_number}"
            job = [sys.executable, "-m", "benchmarks.handwritten"]
            job += ["--dsn", upstream.dsn, "--output", str(folder / "job")]
            baseline.append(_measured(job, {}, folder / "baseline.log", "baseline"))
            run = [str(Path(sys.executable).with_name("rainforest")), "run", "--full-refresh"]
            run += ["--threads", str(args.threads)] if args.threads else []
            env = {
                "RAINFOREST_WAREHOUSE": str(folder / "lakehouse"),
                "RAINFOREST_PG_DSN": upstream.dsn,
                "RAINFOREST_STATE_DIR": str(upstream.folder / "state"),
                "RAINFOREST_SPARK_CLASS_ARCHIVE": str(not args.stock_jvm).lower(),
                "RAINFOREST_SPARK_LOCAL_FILES_IN_PROCESS": str(not args.stock_jvm).lower(),
            }
            framework.append(_measured(run, env, folder / "framework.log", "framework"))
    baseline_s = statistics.median(m.seconds for m in baseline)
    framework_s = statistics.median(m.seconds for m in framework)
    print(
        f"baseline_seconds={baseline_s:.1f} framework_seconds={framework_s:.1f} "
        f"framework_ratio={framework_s / baseline_s:.2f}"
    )
    print(
        f"baseline_driver_peak_mb={max(m.driver_peak_mb for m in baseline):.0f} "
        f"framework_driver_peak_mb={max(m.driver_peak_mb for m in framework):.0f}"
    )


def _measured(command: list[str], env: dict[str, str], log: Path, label: str) -> Measured:
    """Run `command` to its end, its output into `log`; fail the benchmark if it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, **env}
        )
        sampler = _PeakMemory(process.pid)
        code = process.wait()
        seconds = time.perf_counter() - started
        sampler.stop()
    if code != 0:
        raise SystemExit(f"the {label} exited with {code}; its output is in {log}")
    print(f"{label}: {seconds:.1f} s, driver peak {sampler.peak_mb:.0f} MB", flush=True)
    return Measured(seconds=seconds, driver_peak_mb=sampler.peak_mb)


class _PeakMemory:
    """The largest resident memory of a driver seen so far: its Python process and the JVM
    that process started (the Python workers Spark forks are not the driver's)."""

    def __init__(self, pid: int) -> None:
        self.peak_mb = 0.0
        self._driver = psutil.Process(pid)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stopped.wait(SAMPLE_EVERY_S):
            try:
                jvms = [p for p in self._driver.children() if p.name() == "java"]
                rss = sum(p.memory_info().rss for p in [self._driver, *jvms])
            except psutil.Error:
                continue
            self.peak_mb = max(self.peak_mb, rss / 2**20)


if __name__ == "__main__":
    main()
