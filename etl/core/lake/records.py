"""Small operational tables (the run log, quality results) written and read in the driver.

A row of the run log is a few hundred bytes; a Spark job to append it would cost more than
many tables it describes, and `rainforest runs` should answer without starting a JVM. These
tables are Delta tables like any other (Spark reads them too), committed through the same
`commit` as every write, so an append is atomic: it is all there or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import pyarrow as pa
from pyarrow.fs import SubTreeFileSystem

from etl.core.lake.commit import commit, discard, plan_write
from etl.core.lake.snapshot import open_delta
from etl.core.lake.storage import Storage
from etl.core.lake.write import write_files


def append_records(
    uri: str, storage: Storage, rows: pa.Table, *, notes: Mapping[str, str] | None = None
) -> int | None:
    """Append `rows` as one file in one commit (creating the table on first use); the new
    version. On failure no file is left behind and the table keeps its previous version."""
    plan = plan_write(
        uri,
        storage,
        schema=rows.schema,
        mode="append",
        partition_by=(),
        table_format="delta",
        notes=notes,
    )
    files = write_files(iter(rows.to_batches()), plan, storage, prefix=f"part-{uuid.uuid4().hex}")
    try:
        return commit(plan, storage, files)
    except BaseException:
        discard(uri, storage, [file.path for file in files])
        raise


def read_records(uri: str, storage: Storage) -> pa.Table | None:
    """The table's current rows; None when nothing was written at `uri` yet.

    Read through pyarrow's own filesystem, not delta-rs's default (a Python filesystem over
    Rust that Arrow's I/O threads call into): with that one, deltalake 1.6 here ended about
    four short processes in ten with "terminate called without an active exception" (SIGABRT,
    exit 134) after their work was done."""
    table = open_delta(uri, storage)
    if table is None:
        return None
    filesystem, root = storage.filesystem(uri)
    return table.to_pyarrow_dataset(filesystem=SubTreeFileSystem(root, filesystem)).to_table()
