"""The upstream `rainforest` schema and its fake data.

`generate` builds every table in memory, deterministically for a seed and end date;
`inject_defects` optionally makes some rows defective, for testing the quality rules; `load`
copies them into Postgres and records how they were made in the schema's comment
(`Generation`). `rainforest datagen` does all three. `advance` then simulates the shop's next
days in Postgres (new rows, edits, late rows, deletes), so the upstream moves as a real one
does; `rainforest datagen --advance N` does that.

datagen stands apart from the lakehouse (`etl`), as the shop's application stands apart from
its analytics: it imports nothing from `etl`. The seam is small and explicit: the caller
hands `load`, `advance` and `has_data` an open psycopg2 connection, and every request datagen
cannot fulfil raises `DatagenError`, whose message the caller shows. An import-linter contract
in pyproject.toml keeps it so.
"""

from __future__ import annotations

from datagen.advance import DayChanges, advance
from datagen.dirty import Defects, inject_defects
from datagen.errors import DatagenError
from datagen.generator import TABLES, default_end_date, generate, row_counts
from datagen.load import SCHEMA, Generation, LoadMode, has_data, load

__all__ = [
    "SCHEMA",
    "TABLES",
    "DatagenError",
    "DayChanges",
    "Defects",
    "Generation",
    "LoadMode",
    "advance",
    "default_end_date",
    "generate",
    "has_data",
    "inject_defects",
    "load",
    "row_counts",
]
