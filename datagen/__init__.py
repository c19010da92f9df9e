"""The upstream `rainforest` schema and its fake data.

`generate` builds every table in memory, deterministically for a seed and end date;
`inject_defects` optionally makes some rows defective, for testing the quality rules; `load`
copies them into Postgres. `rainforest datagen` does all three.

datagen stands apart from the lakehouse (`etl`), as the shop's application stands apart from
its analytics: it imports nothing from `etl`. The seam is small and explicit: the caller
hands `load` and `has_data` an open psycopg2 connection, and every request datagen cannot
fulfil raises `DatagenError`, whose message the caller shows. An import-linter contract in
pyproject.toml keeps it so.
"""

from __future__ import annotations

from datagen.dirty import Defects, inject_defects
from datagen.errors import DatagenError
from datagen.generator import TABLES, default_end_date, generate, row_counts
from datagen.load import SCHEMA, LoadMode, has_data, load

__all__ = [
    "SCHEMA",
    "TABLES",
    "DatagenError",
    "Defects",
    "LoadMode",
    "default_end_date",
    "generate",
    "has_data",
    "inject_defects",
    "load",
    "row_counts",
]
