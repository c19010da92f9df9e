"""A throwaway upstream Postgres with scale-N generated data, shared by the benchmarks."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from datagen import SCHEMA, default_end_date, generate, load, row_counts
from etl.core.upstream import Upstream, connect
from etl.services.postgres import LocalPostgres
from etl.services.settings import ServiceSettings


@dataclass(frozen=True, kw_only=True)
class BenchmarkDatabase:
    dsn: str
    counts: dict[str, int]
    folder: Path

    @property
    def upstream(self) -> Upstream:
        """The database as a run's upstream."""
        return Upstream(dsn=self.dsn, schema=SCHEMA)


@contextmanager
def upstream_database(*, scale: float, seed: int) -> Iterator[BenchmarkDatabase]:
    """Start a server of its own in a temporary folder, load data, and clean up afterwards.

    Prints how long generation and loading took, which the README reports.
    """
    folder = Path(tempfile.mkdtemp(prefix="rainforest-bench-"))
    # Its own state folder; the server moves to a free port if the default one is taken.
    server = LocalPostgres(ServiceSettings(state_dir=folder / "state", pg_dsn=None))
    try:
        dsn = server.up()
        started = time.perf_counter()
        end_date = default_end_date()
        tables = generate(scale=scale, seed=seed, end_date=end_date)
        generated = time.perf_counter() - started
        with connect(dsn) as conn:
            load(conn, tables, scale=scale, seed=seed, end_date=end_date, mode="reset")
        loaded = time.perf_counter() - started - generated
        counts = row_counts(tables)
        print(
            f"scale {scale:g}: {sum(counts.values()):,} upstream rows generated in "
            f"{generated:.1f} s, loaded in {loaded:.1f} s"
        )
        yield BenchmarkDatabase(dsn=dsn, counts=counts, folder=folder)
    finally:
        server.down()
        shutil.rmtree(folder, ignore_errors=True)
