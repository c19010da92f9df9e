"""`rainforest maintain`: compaction, vacuum and a checkpoint for the lake's tables.

Vacuum never deletes the files of a version that a table downstream last read: its next
build compares that version with the current one (`Table.changes_since`), however long ago
it was built.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from etl.core.incremental import MARK_CONSUMED
from etl.core.lake.maintenance import Maintained, maintain
from etl.core.lake.snapshot import open_delta
from etl.core.lake.storage import Storage
from etl.core.lock import LOCK_TABLE, lock_uri
from etl.core.quality.results import RESULTS_TABLE, quarantine_uri
from etl.core.runlog import RUNS_TABLE

if TYPE_CHECKING:
    from etl.core.registry import Registry
    from etl.core.settings import Settings
    from etl.core.table import Table

DEFAULT_RETENTION = timedelta(days=7)


@dataclass(frozen=True, kw_only=True)
class TableMaintained:
    table: str
    maintained: Maintained | None
    """None when there was nothing to maintain (`why` says why)."""
    why: str = ""


def maintain_tables(
    settings: Settings,
    registry: Registry,
    names: Sequence[str] = (),
    *,
    retention: timedelta = DEFAULT_RETENTION,
    force: bool = False,
) -> Iterator[TableMaintained]:
    """Maintain the named tables (default: every table, its quarantine, the run log and the
    quality results), one after the other, reporting each as it is done."""
    storage = Storage.from_settings(settings)
    tables = registry.build_order()
    if names:
        wanted = {registry.get(name) for name in names}
        tables = [table for table in tables if table in wanted]
    for table in tables:
        spec = table.spec
        if spec.data_format != "delta":
            yield TableMaintained(table=spec.qualified_name, maintained=None, why="not Delta")
            continue
        uri = table.uri_in(settings)
        if open_delta(uri, storage) is None:
            yield TableMaintained(table=spec.qualified_name, maintained=None, why="not built yet")
            continue
        maintained = maintain(
            uri,
            storage,
            retention=retention,
            force=force,
            keep_versions=_read_downstream(settings, registry, table, storage),
            zorder_by=spec.zorder_by,
        )
        yield TableMaintained(table=spec.qualified_name, maintained=maintained)
    if names:
        return
    extra = [
        *(("quarantine." + t.spec.name, quarantine_uri(settings, t.spec.name)) for t in tables),
        (f"ops.{RUNS_TABLE}", settings.table_uri("ops", RUNS_TABLE)),
        (f"ops.{RESULTS_TABLE}", settings.table_uri("ops", RESULTS_TABLE)),
        (f"ops.{LOCK_TABLE}", lock_uri(settings)),
    ]
    for name, uri in extra:
        if open_delta(uri, storage) is not None:
            done = maintain(uri, storage, retention=retention, force=force)
            yield TableMaintained(table=name, maintained=done)


def _read_downstream(
    settings: Settings, registry: Registry, table: type[Table], storage: Storage
) -> list[int]:
    """The versions of `table` that the tables reading it last read."""
    mark = MARK_CONSUMED.format(table.spec.qualified_name)
    versions = []
    for reader in registry:
        if table.spec.name not in reader.spec.upstream:
            continue
        opened = open_delta(reader.uri_in(settings), storage)
        version = opened.transaction_version(mark) if opened is not None else None
        if version is not None:
            versions.append(version)
    return versions
