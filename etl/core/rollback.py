"""Rolling a table back by name: its versions, and making one of them current again.

A restore writes a new version holding an earlier one's rows and the marks that version
recorded, so the table carries on from there: a source table takes the upstream changes since
that version's high-water mark again, a derived table catches up from the versions that one
had read. Tables downstream see the restore's mark and rebuild whole on their next run,
since comparing versions cannot tell them which rows went back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from etl.core.errors import ConfigError
from etl.core.lake.storage import Storage
from etl.core.lake.versions import (
    NOTE_WHY,
    Restored,
    TableVersion,
    restore,
    table_history,
    version_at,
)

if TYPE_CHECKING:
    from etl.core.registry import Registry
    from etl.core.settings import Settings


@dataclass(frozen=True, kw_only=True)
class TableRestored:
    table: str
    """Qualified name."""
    restored: Restored
    downstream: tuple[str, ...]
    """Tables (qualified) that rebuild whole on the next run."""


def table_versions(
    settings: Settings, registry: Registry, name: str, *, last: int
) -> list[TableVersion]:
    """The `last` versions of the table named `name` (`orders` or `silver.orders`), newest
    first."""
    table = registry.get(name)
    return table_history(table.uri_in(settings), Storage.from_settings(settings), last=last)


def restore_table(
    settings: Settings,
    registry: Registry,
    name: str,
    *,
    version: int | None = None,
    at: datetime | None = None,
) -> TableRestored:
    """Make `version` of the table (or its newest version committed at or before `at`)
    current in a new commit."""
    table = registry.get(name)
    uri, storage = table.uri_in(settings), Storage.from_settings(settings)
    if version is None:
        if at is None:
            raise ConfigError(
                "Name the version to restore (--version N) or a moment (--timestamp)."
            )
        version = version_at(uri, storage, at)
    restored = restore(
        uri,
        storage,
        version=version,
        marks=table.mark_names(registry),
        notes={NOTE_WHY: f"restored to version {version}"},
    )
    return TableRestored(
        table=table.spec.qualified_name,
        restored=restored,
        downstream=tuple(t.spec.qualified_name for t in registry.downstream(table.spec.name)),
    )
