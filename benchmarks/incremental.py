"""A day's incremental run against the full run, and how bronze grows over simulated days.

    python -m benchmarks.incremental --scale 10

Loads scale-N data into a throwaway Postgres (not timed), then, each run in a fresh process
into the same local warehouse:

1. a full run for the last loaded day (the first run of every table);
2. `datagen --advance 1` (about 1% of the rows change), then the incremental run for that
   day;
3. nine more days advanced and run, untimed, to measure bronze's growth.

Prints `incremental_ratio` (incremental seconds over full seconds) and `bronze_growth`
(bytes of bronze's live files after ten simulated days over those after the first load).
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from deltalake import DeltaTable

from benchmarks._runs import run_in_own_process
from benchmarks._upstream import BenchmarkDatabase, upstream_database
from datagen import advance
from datagen.load import Generation
from etl.core.settings import Settings
from etl.core.upstream import connect

SIMULATED_DAYS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    with upstream_database(scale=args.scale, seed=args.seed) as upstream:
        settings = Settings(warehouse=str(upstream.folder / "lakehouse"))
        bronze = upstream.folder / "lakehouse" / "bronze"
        full = run_in_own_process(
            settings, upstream, label="full", logical_date=_simulated_through(upstream)
        )
        first_load_bytes = _live_bytes(bronze)
        day = _advance_one_day(upstream)
        incremental = run_in_own_process(settings, upstream, label="incremental", logical_date=day)
        for _ in range(SIMULATED_DAYS - 1):
            day = _advance_one_day(upstream)
            run_in_own_process(settings, upstream, label=f"day {day}", logical_date=day)
        growth = _live_bytes(bronze) / first_load_bytes
    print(
        f"full_seconds={full.seconds:.1f} incremental_seconds={incremental.seconds:.1f} "
        f"bronze_mb_first={first_load_bytes / 1e6:.1f}"
    )
    print(f"incremental_ratio={incremental.seconds / full.seconds:.2f} bronze_growth={growth:.2f}")


def _simulated_through(upstream: BenchmarkDatabase) -> date:
    with connect(upstream.dsn) as conn, conn.cursor() as cursor:
        return Generation.read(cursor).simulated_through


def _advance_one_day(upstream: BenchmarkDatabase) -> date:
    with connect(upstream.dsn) as conn:
        (changes,) = advance(conn, days=1)
    changed = sum(sum(counts) for counts in changes.counts().values())
    print(f"advanced to {changes.day}: {changed:,} rows changed", flush=True)
    return changes.day


def _live_bytes(bronze: Path) -> int:
    """Bytes of the files in each bronze table's current version (not files kept for history)."""
    return sum(
        sum(DeltaTable(str(table)).get_add_actions(flatten=True).column("size_bytes").to_pylist())
        for table in sorted(bronze.iterdir())
        if (table / "_delta_log").is_dir()
    )


if __name__ == "__main__":
    main()
