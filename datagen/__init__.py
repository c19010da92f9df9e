"""The upstream `rainforest` schema and its fake data.

`generate` builds every table in memory, deterministically for a seed and end date; `load` copies
them into Postgres. `python -m datagen` (or `rainforest datagen`) does both.
"""

from __future__ import annotations

from datagen.generator import TABLES, default_end_date, generate, row_counts
from datagen.load import has_data, load

__all__ = ["TABLES", "default_end_date", "generate", "has_data", "load", "row_counts"]
