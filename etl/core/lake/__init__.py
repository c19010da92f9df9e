"""Lake storage: Delta Lake tables through a Spark Python data source backed by delta-rs.

`Lake` is what the framework calls. The names load on first use, because Spark imports this
package in every session's data-source lookup (see `pyspark_rainforest`) and only needs the
light `etl.core.lake.source` module there.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etl.core.lake.lake import Lake, WriteResult
    from etl.core.lake.log import TableFormat, WriteMode

__all__ = ["Lake", "TableFormat", "WriteMode", "WriteResult"]

_HOMES = {
    "Lake": "etl.core.lake.lake",
    "WriteResult": "etl.core.lake.lake",
    "TableFormat": "etl.core.lake.log",
    "WriteMode": "etl.core.lake.log",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)
