"""A throwaway upstream Postgres with scale-N generated data, shared by the benchmarks."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from datagen import generate, load, row_counts
from etl.core.settings import Settings
from etl.services.postgres import LocalPostgres


@dataclass(frozen=True, kw_only=True)
class Upstream:
    dsn: str
    counts: dict[str, int]
    folder: Path


@contextmanager
def upstream_database(*, scale: float, seed: int) -> Iterator[Upstream]:
    """Start a server of its own in a temporary folder, load data, and clean up afterwards.

    Prints how long generation and loading took, which the README reports.
    """
    folder = Path(tempfile.mkdtemp(prefix="rainforest-bench-"))
    # Its own state folder; the server moves to a free port if the default one is taken.
    server = LocalPostgres(Settings(state_dir=folder / "state", pg_dsn=None))
    try:
        dsn = server.up()
        started = time.perf_counter()
        tables = generate(scale=scale, seed=seed)
        generated = time.perf_counter() - started
        load(dsn, tables, mode="reset")
        loaded = time.perf_counter() - started - generated
        counts = row_counts(tables)
        print(
            f"scale {scale:g}: {sum(counts.values()):,} upstream rows generated in "
            f"{generated:.1f} s, loaded in {loaded:.1f} s"
        )
        yield Upstream(dsn=dsn, counts=counts, folder=folder)
    finally:
        server.down()
        shutil.rmtree(folder, ignore_errors=True)
