"""What a run would build, and why, from the Delta logs and the upstream database alone.

`rainforest plan` asks before a run: no Spark session starts and nothing is written. Each
table is judged by the rules the run applies (`etl.core.incremental.judge` for lake tables,
`SourceTable.decide` for source tables), in build order, so a table downstream of one that
would build is expected to change too. Where the run would trace changes to rows with Spark,
the plan says `check` and which rows the run would look for, not how many it would find (the
run may find that no change touches a table's rows, and skip it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from etl.core.errors import ConfigError
from etl.core.incremental import BuildPlan, Planning, ToTrace, judge
from etl.core.names import row_count
from etl.core.source_table import INGESTION_DATE, SourceTable
from etl.core.table import end_of_day
from etl.core.upstream import ChangeProbe

if TYPE_CHECKING:
    from etl.core.lake import LakeLog
    from etl.core.settings import Settings
    from etl.core.table import Table
    from etl.core.upstream import Upstream

Action = Literal["build", "check", "skip"]
"""`check`: the run traces its inputs' changes to rows, and builds only the rows they touch,
or skips the table when they touch none; or the table is rebuilt whole, but only if an input
that the run checks first does change."""


class _Registry(Protocol):
    def get(self, name: str) -> type[Table]: ...
    def build_order(self, targets: Sequence[str] = ()) -> list[type[Table]]: ...


@dataclass(frozen=True, kw_only=True)
class PlannedTable:
    """One table's line of a plan."""

    table: str
    """Qualified: `layer.name`."""
    action: Action
    how: str
    """`snapshot` or `changes` for a source table; `full` or its strategy for another."""
    reason: str
    touches: str
    """What the build would rewrite: the whole table, a batch, or the values changes touch."""


def plan_run(
    registry: _Registry,
    settings: Settings,
    lake: LakeLog,
    *,
    upstream: Upstream | None,
    run_date: date,
    targets: Sequence[str] = (),
    full_refresh: bool = False,
    force: bool = False,
) -> list[PlannedTable]:
    """The build or skip of every table a run of `targets` (none: all) would visit, in build
    order, with the reason and what it would touch."""
    run_date_end = end_of_day(run_date)
    planned: dict[str, PlannedTable] = {}
    for table in registry.build_order(targets):
        name = table.spec.name
        if issubclass(table, SourceTable):
            planned[name] = _plan_source(
                table,
                lake,
                settings,
                upstream=upstream,
                run_date=run_date,
                run_date_end=run_date_end,
                full_refresh=full_refresh,
                force=force,
            )
            continue
        visited = {n: planned[n].action for n in table.spec.upstream}
        planning = Planning(
            lake=lake,
            registry=registry,
            settings=settings,
            run_date_end=run_date_end,
            full_refresh=full_refresh,
            force=force,
            pending=frozenset(n for n, action in visited.items() if action != "skip"),
        )
        line = _plan_lake_table(table, judge(table, planning), lake, settings, force)
        if line.action == "build" and "check" in visited.values():
            certain = replace(
                planning, pending=frozenset(n for n, a in visited.items() if a == "build")
            )
            if _up_to_date(judge(table, certain)):
                line = _maybe_whole(line)
        planned[name] = line
    return list(planned.values())


def _up_to_date(judged: BuildPlan | ToTrace) -> bool:
    return isinstance(judged, BuildPlan) and judged.mode == "up_to_date"


def _maybe_whole(line: PlannedTable) -> PlannedTable:
    """A table rebuilt whole only if an input the run checks first does change."""
    return replace(line, action="check", touches=f"{line.touches}, if an input changes")


def _plan_source(
    table: type[SourceTable],
    lake: LakeLog,
    settings: Settings,
    *,
    upstream: Upstream | None,
    run_date: date,
    run_date_end: datetime,
    full_refresh: bool,
    force: bool,
) -> PlannedTable:
    if upstream is None:
        raise ConfigError(
            f"{table.spec.qualified_name} copies an upstream table: planning needs the upstream "
            "database to count its changes."
        )
    recorded = table.recorded_mark(lake, settings)
    previous = None if full_refresh else recorded
    probe, _ = table.probe(upstream, previous, until=run_date_end)
    plan, batch = table.decide(recorded, probe, full_refresh=full_refresh, force=force)
    qualified = table.spec.qualified_name
    if batch is None:
        return PlannedTable(
            table=qualified, action="skip", how="", reason=plan.reason, touches="nothing"
        )
    return PlannedTable(
        table=qualified,
        action="build",
        how=plan.label,
        reason=plan.reason,
        touches=_batch_touches(probe, snapshot=batch.full, run_date=run_date),
    )


def _batch_touches(probe: ChangeProbe | None, *, snapshot: bool, run_date: date) -> str:
    partition = f"{INGESTION_DATE}={run_date.isoformat()}"
    if probe is None:
        return f"every upstream row, compared with the log; a batch into {partition}"
    if snapshot:
        return f"the whole log: a snapshot of {probe.rows:,} upstream rows"
    return f"a batch of up to {row_count(probe.changed_since_mark)} into {partition}"


def _plan_lake_table(
    table: type[Table],
    judged: BuildPlan | ToTrace,
    lake: LakeLog,
    settings: Settings,
    force: bool,
) -> PlannedTable:
    qualified = table.spec.qualified_name
    if isinstance(judged, BuildPlan):
        if judged.mode == "up_to_date":
            return PlannedTable(
                table=qualified, action="skip", how="", reason=judged.reason, touches="nothing"
            )
        held = lake.rows(table.uri_in(settings))
        return PlannedTable(
            table=qualified,
            action="build",
            how="full",
            reason=judged.reason,
            touches=f"the whole table ({row_count(held)} now)" if held else "the whole table",
        )
    strategy = table.spec.strategy
    uri = table.uri_in(settings)
    if strategy.kind == "by_date":
        held = f"{len(lake.partition_values(uri)):,} dates now"
        unit = f"dates ({strategy.on})"
    else:
        held = f"{row_count(lake.rows(uri))} now"
        unit = f"{strategy.on} values"
    return PlannedTable(
        table=qualified,
        # Forced, it builds even when the changes touch none of its rows.
        action="build" if force else "check",
        how=strategy.describe(),
        reason=judged.reason,
        touches=f"the {unit} that its inputs' changes touch (if any), of {held}",
    )
