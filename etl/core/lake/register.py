"""A register: a tiny Delta table whose value is its latest commit, changed by compare-and-set.

Two processes on two machines share nothing but the object store, whose one atomic operation
(used by every Delta commit) is "write this log entry unless it exists". A register builds a
compare-and-set on it: a new value is a commit of no files at exactly the version after the
one its writer read, so of two writers that read the same value, one wins and the other is
told, instead of being rebased onto the winner as an ordinary commit would be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.transaction import CommitProperties, create_table_with_add_actions

from etl.core.lake.snapshot import open_delta
from etl.core.lake.storage import Storage

_PREFIX = "rainforest.register."
# A Delta table needs a schema; a register keeps its value in the commit, not in rows.
_SCHEMA = pa.schema([pa.field("unused", pa.string())])


@dataclass(frozen=True, kw_only=True)
class RegisterValue:
    version: int
    """The commit that set it: what a compare-and-set names as the value it replaces."""
    at: datetime
    """When it was set, by the setter's clock."""
    values: dict[str, str]


def read_register(uri: str, storage: Storage) -> RegisterValue | None:
    """The register's value; None when it was never set."""
    table = open_delta(uri, storage)
    if table is None:
        return None
    entry = table.history(1)[0]
    return RegisterValue(
        version=int(entry["version"]),
        at=datetime.fromtimestamp(int(entry["timestamp"]) / 1000, UTC),
        values={
            key.removeprefix(_PREFIX): str(value)
            for key, value in entry.items()
            if key.startswith(_PREFIX)
        },
    )


def set_register(
    uri: str, storage: Storage, values: Mapping[str, str], *, replacing: int | None
) -> bool:
    """Set the register to `values` if its value is still the one of version `replacing` (None:
    if it was never set); whether it was set. Any other failure raises."""
    properties = CommitProperties(
        custom_metadata={_PREFIX + key: value for key, value in values.items()},
        max_commit_retries=0,
    )
    if replacing is None:
        try:
            create_table_with_add_actions(
                uri,
                DeltaSchema.from_arrow(_SCHEMA),
                [],
                mode="error",
                storage_options=storage.delta_options(uri),
                commit_properties=properties,
            )
        except DeltaError:
            if open_delta(uri, storage) is None:
                raise
            return False
        return True
    table = open_delta(uri, storage, version=replacing)
    if table is None:
        return False
    try:
        table.create_write_transaction(
            [], mode="append", schema=_SCHEMA, commit_properties=properties
        )
    except CommitFailedError:
        return False
    return True
