"""Lake storage: Delta Lake tables through a Spark Python data source backed by delta-rs.

`Lake` is what the framework calls. The names load on first use, because Spark imports this
package in every session's data-source lookup (see `pyspark_rainforest`) and only needs the
light `etl.core.lake.datasource` module there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from etl.core.lake.commit import WriteMode
    from etl.core.lake.lake import FilesChanged, Lake, LakeLog, WriteResult, Written
    from etl.core.lake.snapshot import TableFormat, distinct_partitions

__all__ = [
    "FilesChanged",
    "Lake",
    "LakeLog",
    "TableFormat",
    "WriteMode",
    "WriteResult",
    "Written",
    "distinct_partitions",
]

_HOMES = {
    "FilesChanged": "etl.core.lake.lake",
    "Lake": "etl.core.lake.lake",
    "LakeLog": "etl.core.lake.lake",
    "WriteResult": "etl.core.lake.lake",
    "Written": "etl.core.lake.lake",
    "TableFormat": "etl.core.lake.snapshot",
    "distinct_partitions": "etl.core.lake.snapshot",
    "WriteMode": "etl.core.lake.commit",
}

__getattr__ = lazy_attributes(__name__, _HOMES)
