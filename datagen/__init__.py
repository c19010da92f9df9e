"""The upstream `rainforest` schema and its fake data.

`generate` builds every table in memory, deterministically for a seed and end date;
`inject_defects` optionally makes some rows defective, for testing the quality rules; `load`
copies them into Postgres. `python -m datagen` (or `rainforest datagen`) does all three.
"""

from __future__ import annotations

from datagen.dirty import Defects, inject_defects
from datagen.generator import TABLES, default_end_date, generate, row_counts
from datagen.load import has_data, load

__all__ = [
    "TABLES",
    "Defects",
    "default_end_date",
    "generate",
    "has_data",
    "inject_defects",
    "load",
    "row_counts",
]
