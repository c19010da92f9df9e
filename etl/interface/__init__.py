"""The interface layer: one SQL view per `.sql` file, named after the file.

Each file holds a single `SELECT` (no trailing semicolon) over lake tables, which it names
without their layer (`daily_order_metrics`, not `gold.daily_order_metrics`): table names are
unique across layers. `etl.core.catalog.Catalog` defines the views in every session that
queries the lake (`rainforest sql`, `rainforest serve`). This is a package so that the files
ship with the project and are found with `importlib.resources`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def views_dir() -> Path:
    """The installed folder of the views' `.sql` files."""
    return Path(str(files(__name__)))
