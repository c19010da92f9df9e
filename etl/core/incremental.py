"""Carrying a table on from its last build: what changed upstream, and which rows that touches.

Every build of a table that reads other lake tables records, in its own Delta commit, the
version of each upstream table it consumed, the end of its logical date and a fingerprint of
its definition (marks, see `Lake.marks`). The next build compares them with the upstream
tables' versions now:

- nothing changed: the table is up to date and not built;
- the strategy is `full`, the table is new, its definition changed, or a change cannot be
  traced to rows: the whole table is rebuilt;
- otherwise the changed upstream rows (as they were and as they are) are traced to the values
  of the strategy's `on` column whose rows must be recomputed (see `etl.core.strategy`).

Because the marks move in the same commit as the rows, a build that dies before its commit
leaves the marks where they were, and the next build recomputes the same rows again.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from etl.core.changes import from_micros, to_micros
from etl.core.lake.versions import MARK_RESTORED
from etl.core.strategy import MOST_OF_THE_TABLE

if TYPE_CHECKING:
    from etl.core.dataset import TableSpec
    from etl.core.lake import Lake, LakeLog
    from etl.core.quality.rules import Rule
    from etl.core.settings import Settings

MARK_CONSUMED = "rainforest.consumed.{}"
"""Per upstream table (qualified name): the Delta version a build read."""
MARK_LOGICAL_END = "rainforest.logical_end"
"""Microseconds since the epoch: the end of the logical date the build judged time rules by."""
MARK_DEFINITION = "rainforest.definition"
"""A fingerprint of the table's class source (spec and transform): a new one rebuilds it."""

BuildMode = Literal["full", "replace", "up_to_date"]


class _Tables(Protocol):
    def get(self, name: str) -> Any: ...


class _Context(Protocol):
    """What planning needs of a run (a `RunContext`)."""

    @property
    def lake(self) -> Lake: ...
    @property
    def registry(self) -> _Tables: ...
    @property
    def full_refresh(self) -> bool: ...
    @property
    def force(self) -> bool: ...
    @property
    def run_date_end(self) -> datetime: ...
    @property
    def changes_found(self) -> ChangesFound: ...
    @property
    def settings(self) -> Settings: ...


class TableClass(Protocol):
    """What planning needs of a table class (an `etl.core.table.Table` subclass), named here
    so that the table module can import this one."""

    spec: TableSpec

    def uri_in(self, settings: Settings) -> str: ...
    def mark_names(self, registry: Any) -> tuple[str, ...]: ...
    def is_traceable(self) -> bool: ...


class Table(Protocol):
    """What tracing changes needs of a table (an `etl.core.table.Table`)."""

    spec: TableSpec

    @property
    def context(self) -> _Context: ...
    @property
    def storage_path(self) -> str: ...
    def changes_since(self, version: int) -> Changes | None: ...
    def lookup_rows(self) -> DataFrame: ...
    def size(self) -> int: ...


HELD_ROWS = 20_000
"""Changed rows of one side that planning holds in the driver to answer its questions from,
instead of asking Spark one job per question (a day's changes are a few thousand rows)."""


@dataclass(frozen=True)
class Changes:
    """The rows of a table that differ between two of its versions: `before` as they were
    (rows since changed or gone), `after` as they are (rows new or changed).

    Both are small next to the table and already computed (see `net_changes`): planning asks
    them several questions, each of which must not read the table again, and several
    downstream tables ask the same questions of the same changes (see `ChangesFound`). A side
    of at most `HELD_ROWS` rows is collected once and answers every question in the driver.
    """

    before: DataFrame
    after: DataFrame
    rows_read: int = 0
    """Rows of the table read to find the changes (from file statistics, not counted)."""

    _held: dict[str, _Held] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    @property
    def empty(self) -> bool:
        return not self._side("before").any and not self._side("after").any

    def values(self, column: str) -> set[object]:
        """The distinct non-null values `column` had or has in changed rows."""
        return set(self._side("before").distinct(column) | self._side("after").distinct(column))

    def appeared_or_gone(self, column: str) -> set[object]:
        """The values of `column` found on one side only: keys that appeared or disappeared."""
        return set(self._side("before").distinct(column) ^ self._side("after").distinct(column))

    def _side(self, side: Literal["before", "after"]) -> _Held:
        with self._lock:
            if side not in self._held:
                self._held[side] = _Held.of(self.before if side == "before" else self.after)
            return self._held[side]


class _Held:
    """One side of some changes: its rows in the driver when they are few, else in Spark; each
    column's distinct values are found once."""

    def __init__(self, frame: DataFrame, rows: list[Row] | None) -> None:
        self._frame = frame
        self._rows = rows
        self._distinct: dict[str, frozenset[object]] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, frame: DataFrame) -> _Held:
        rows = frame.limit(HELD_ROWS + 1).collect()
        return cls(frame, rows if len(rows) <= HELD_ROWS else None)

    @property
    def any(self) -> bool:
        return self._rows is None or bool(self._rows)

    def distinct(self, column: str) -> frozenset[object]:
        """The distinct non-null values of `column`."""
        with self._lock:
            if column not in self._distinct:
                if self._rows is None:
                    found = _distinct(self._frame, column)
                else:
                    found = {row[column] for row in self._rows if row[column] is not None}
                self._distinct[column] = frozenset(found)
            return self._distinct[column]


class ChangesFound:
    """The upstream changes found during one run, by table and the span of its versions.

    Several downstream tables read the same upstream table across the same versions (all of
    them built from its previous run), and finding its changes costs Spark jobs: they are
    found once per run, under a lock per question, and shared.
    """

    def __init__(self) -> None:
        self._found: dict[tuple[str, tuple[int, int]], Changes | None] = {}
        self._locks: dict[tuple[str, tuple[int, int]], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(
        self, uri: str, span: tuple[int, int], find: Callable[[], Changes | None]
    ) -> Changes | None:
        """The changes of the table at `uri` from version `span[0]` to `span[1]`."""
        asked = (uri, span)
        with self._guard:
            lock = self._locks.setdefault(asked, threading.Lock())
        with lock:
            if asked not in self._found:
                self._found[asked] = find()
            return self._found[asked]


def net_changes(before: DataFrame, after: DataFrame, *, rows_read: int) -> Changes:
    """The rows only in `before` and those only in `after`, counting duplicates (as
    `exceptAll` both ways), computed in one pass and kept for the length of the plan."""
    columns = before.columns
    tagged = before.withColumn(_SIDE, F.lit(-1)).unionByName(after.withColumn(_SIDE, F.lit(1)))
    net = (
        tagged.groupBy(*columns)
        .agg(F.sum(_SIDE).alias(_SIDE))
        .where(F.col(_SIDE) != 0)
        .localCheckpoint()
    )

    def side(sign: int) -> DataFrame:
        copies = F.explode(F.sequence(F.lit(1), F.abs(F.col(_SIDE))))
        return net.where(F.col(_SIDE) * sign > 0).select(*columns, copies).select(*columns)

    return Changes(before=side(-1), after=side(1), rows_read=rows_read)


_SIDE = "_rainforest_side"


def _distinct(rows: DataFrame, column: str) -> set[object]:
    return {
        row[0] for row in rows.select(column).where(F.col(column).isNotNull()).distinct().collect()
    }


@dataclass(frozen=True, kw_only=True)
class BuildPlan:
    """What a build does and why; `values` are the `on` values a replacing build recomputes."""

    mode: BuildMode
    reason: str
    consumed: dict[str, int] = field(default_factory=dict)
    """Upstream qualified name -> the Delta version this build reads."""
    values: tuple[object, ...] = ()
    rows_read: int | None = None
    """Changed upstream rows the plan traced (replacing builds)."""
    label: str = ""
    """How the run summary names the build, when not by the table's strategy."""

    def marks(self, table: Table) -> dict[str, int]:
        """What the build's commit records, for the next build to compare with."""
        return {
            **{MARK_CONSUMED.format(name): version for name, version in self.consumed.items()},
            MARK_LOGICAL_END: to_micros(table.context.run_date_end),
            MARK_DEFINITION: definition_fingerprint(type(table)),
        }


def definition_fingerprint(table_cls: type) -> int:
    """A number that changes when the table's code changes (63 bits, as marks are): its
    class (spec, rules, transform) and the whole of every module of its own tables package
    its module imports from (`etl.tables.gold._money` for a gold table), whose helpers and
    constants the table uses."""
    package = table_cls.__module__.rsplit(".", 2)[0]
    module = sys.modules.get(table_cls.__module__)
    helpers = sorted(
        name
        for name in _imported_modules(module)
        if name != table_cls.__module__ and name.startswith(f"{package}.") and name in sys.modules
    )
    parts = [_source(table_cls, fallback=repr(table_cls.spec))]
    parts += [_source(sys.modules[name], fallback=name) for name in helpers]
    digest = hashlib.sha256("\n".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _imported_modules(module: ModuleType | None) -> set[str]:
    """The modules `module`'s code imports, by its import statements: a constant imported by
    value (`from ._money import USD_SUM`) leaves no trace among the module's attributes."""
    source = _source(module, fallback="") if module is not None else ""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    return imported


def _source(code: object, *, fallback: str) -> str:
    try:
        return inspect.getsource(code)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return fallback


@dataclass(frozen=True, kw_only=True)
class Planning:
    """What deciding how a table builds needs of the run, Spark aside: a run's context gives
    it, and so does `rainforest plan`, which reads the logs alone (`etl.core.planning`)."""

    lake: LakeLog
    registry: _Tables
    settings: Settings
    run_date_end: datetime
    full_refresh: bool = False
    force: bool = False
    """Build tables that are up to date anyway (whole, as nothing is there to trace)."""
    pending: frozenset[str] = frozenset()
    """Upstream tables (by name) that a dry run expects to be built before this one."""

    @classmethod
    def of(cls, context: _Context) -> Planning:
        return cls(
            lake=context.lake,
            registry=context.registry,
            settings=context.settings,
            run_date_end=context.run_date_end,
            full_refresh=context.full_refresh,
            force=context.force,
        )


@dataclass(frozen=True, kw_only=True)
class ToTrace:
    """A table whose upstream changes must be traced to rows (Spark jobs) before its build is
    known: what the logs alone told."""

    consumed: dict[str, int]
    since: dict[str, int]
    """Upstream table (by name) whose version moved -> the version the last build read."""
    previous_end: datetime
    time_rules: tuple[Rule, ...]
    """Rules judged against the logical date, when it moved since the last build."""
    reason: str


def judge(table: TableClass, planning: Planning) -> BuildPlan | ToTrace:
    """How `table` builds, as far as the Delta logs tell (no Spark, nothing read but logs): a
    final plan, or the upstream changes left to trace to rows."""
    spec, lake, registry = table.spec, planning.lake, planning.registry
    upstream = {name: registry.get(name) for name in spec.upstream}
    consumed = {}
    restored = {}
    for other in upstream.values():
        version, marks = lake.state(other.uri_in(planning.settings), (MARK_RESTORED,))
        if version is not None:
            consumed[other.spec.qualified_name] = version
        if MARK_RESTORED in marks:
            restored[other.spec.qualified_name] = marks[MARK_RESTORED]

    def full(reason: str) -> BuildPlan:
        return BuildPlan(mode="full", reason=reason, consumed=consumed)

    if not table.is_traceable():
        return full("it reads from outside the lake")
    if planning.full_refresh:
        return full("full refresh asked for")
    uri = table.uri_in(planning.settings)
    names = table.mark_names(registry)
    built, recorded = lake.state(uri, names)
    if built is None:
        return full("never built")
    if len(recorded) < len(names):
        return full("its last build left no record of what it read")
    if recorded[MARK_DEFINITION] != definition_fingerprint(table):
        return full("its definition changed since its last build")
    went_back = [
        q
        for other in upstream.values()
        if restored.get(q := other.spec.qualified_name, -1) > recorded[MARK_CONSUMED.format(q)]
    ]
    if went_back:
        return full(f"{', '.join(went_back)} was restored to an earlier version")
    previous_end = from_micros(recorded[MARK_LOGICAL_END])
    time_rules = tuple(rule for rule in spec.rules if rule.at_run_time)
    time_moved = bool(time_rules) and previous_end != planning.run_date_end
    since = {
        name: read
        for name, other in upstream.items()
        if (q := other.spec.qualified_name) in consumed
        and consumed[q] != (read := recorded[MARK_CONSUMED.format(q)])
    }
    pending = tuple(name for name in spec.upstream if name in planning.pending)
    moved = [
        f"{(q := upstream[name].spec.qualified_name)} is at version {consumed[q]}, newer than "
        f"version {read} it read"
        for name, read in since.items()
    ]
    if pending:
        first = " and ".join(upstream[name].spec.qualified_name for name in pending)
        moved.append(f"{first} {'is' if len(pending) == 1 else 'are'} built before it")
    if time_moved:
        moved.append(f"the logical date moved from {previous_end:%Y-%m-%d}")
    if not moved:
        if planning.force:
            return full("forced by --force")
        return BuildPlan(mode="up_to_date", reason="no input changed", consumed=consumed)
    reason = "; ".join(moved)
    if not spec.strategy.incremental:
        return full(reason)
    small = planning.settings.incremental_min_rows
    inputs = sum(lake.rows(other.uri_in(planning.settings)) for other in upstream.values())
    if inputs < small:
        return full(
            f"{reason}; whole, as its inputs hold {inputs:,} rows, fewer than {small:,} "
            "(incremental_min_rows)"
        )
    return ToTrace(
        consumed=consumed,
        since=since,
        previous_end=previous_end,
        time_rules=time_rules if time_moved else (),
        reason=reason,
    )


def plan_build(table: Table) -> BuildPlan:
    """Decide how `table` is built this run: from the logs (`judge`), then, when upstream
    changes must be traced to rows, with Spark jobs."""
    context = table.context
    judged = judge(type(table), Planning.of(context))
    if isinstance(judged, BuildPlan):
        return judged
    registry = context.registry
    changes: dict[str, Changes] = {}
    for name, since in judged.since.items():
        other = registry.get(name)(context)
        span = (since, judged.consumed[other.spec.qualified_name])
        found = context.changes_found.get(
            other.storage_path, span, lambda other=other, since=since: other.changes_since(since)
        )
        if found is None:
            return BuildPlan(
                mode="full",
                reason=f"what changed in {name} since its version {since} is no longer known",
                consumed=judged.consumed,
            )
        changes[name] = found
    tracer = _Tracer(table, changes, judged.previous_end)
    untraced = tracer.untraced()
    if untraced is not None:
        return BuildPlan(mode="full", reason=untraced, consumed=judged.consumed)
    plan = tracer.plan(judged.consumed, judged.time_rules)
    if plan.mode == "up_to_date" and context.force:
        return BuildPlan(mode="full", reason="forced by --force", consumed=judged.consumed)
    return plan


class _Tracer:
    """Turns upstream changes into the `on` values whose rows a build must recompute."""

    def __init__(self, table: Table, changes: dict[str, Changes], previous_end: datetime) -> None:
        self.table = table
        self.spec = table.spec
        self.on = table.spec.strategy.on or ""
        self.changes = changes
        self.previous_end = previous_end
        self.driving_name = table.spec.upstream[0]
        self._driving: DataFrame | None = None

    @property
    def driving(self) -> DataFrame:
        """The driving input's rows to look values up in (for a change log: every version)."""
        if self._driving is None:
            registry, context = self.table.context.registry, self.table.context
            self._driving = registry.get(self.driving_name)(context).lookup_rows()
        return self._driving

    def untraced(self) -> str | None:
        """Why the changes cannot be traced to rows, or None when they can."""
        traced = {self.driving_name, *self.spec.strategy.via_columns}
        traced.update(trace.upstream for rule in self.spec.rules for trace in rule.traces)
        for name, found in self.changes.items():
            if name not in traced and not found.empty:
                return f"{name} changed and {self.spec.name} does not trace its changes to rows"
        needed = {self.on, *self.spec.strategy.via_columns.values()}
        for rule in self.spec.rules:
            needed.update(trace.column for trace in rule.traces)
            needed.update(rule.columns[:1] if rule.at_run_time else ())
            if self.on not in rule.groups:
                needed.update(rule.groups)
        missing = sorted(needed - set(self.driving.columns))
        if missing:
            return f"columns {missing} are not in its driving input {self.driving_name}"
        return None

    def plan(self, consumed: dict[str, int], time_rules: Sequence[Rule]) -> BuildPlan:
        direct: set[object] = set()
        pieces: list[DataFrame] = []

        def trace(column: str, values: set[object]) -> None:
            """Add the `on` values of driving rows whose `column` holds one of `values`."""
            if column == self.on:
                direct.update(values)
            elif values:
                chosen = restrict(self.driving, column, sorted(values, key=repr))
                pieces.append(chosen.select(self.on))

        read = 0
        for name, found in self.changes.items():
            read += found.rows_read
            if name == self.driving_name:
                direct.update(found.values(self.on))
            column = self.spec.strategy.via_columns.get(name)
            if column is not None:
                trace(column, found.values(column))
        for rule in self.spec.rules:
            for rule_trace in rule.traces:
                found = self.changes.get(rule_trace.upstream)
                if found is None:
                    continue
                keys = (
                    found.appeared_or_gone(rule_trace.upstream_column)
                    if rule_trace.presence
                    else found.values(rule_trace.upstream_column)
                )
                trace(rule_trace.column, keys)
        end = self.table.context.run_date_end
        low, high = sorted((self.previous_end, end))
        for rule in time_rules:
            moment = F.col(rule.columns[0])
            pieces.append(self.driving.where((moment > low) & (moment <= high)).select(self.on))
        values = self._close_groups(sorted(direct | set(_collect(pieces, self.on)), key=repr))
        if not values:
            # Nothing to commit either: the next build compares from the same versions again.
            return BuildPlan(mode="up_to_date", reason="no change touches its rows")
        total = self.table.size()
        if total and len(values) > MOST_OF_THE_TABLE * total:
            return BuildPlan(
                mode="full",
                reason=f"{len(values)} of {total} {self.unit} changed",
                consumed=consumed,
            )
        return BuildPlan(
            mode="replace",
            reason=f"{len(values)} {self.unit} changed",
            consumed=consumed,
            values=tuple(values),
            rows_read=read,
        )

    @property
    def unit(self) -> str:
        return "dates" if self.spec.strategy.kind == "by_date" else f"{self.on} values"

    def _close_groups(self, values: list[object]) -> list[object]:
        """Add the rows equal, in a group rule's columns, to a row being recomputed, until no
        more come: such rules judge a row by its group, so the whole group is judged again.

        Each round looks up only the groups of the rows the previous round added (those of
        earlier rows found nothing new), and rules on the same columns share one lookup."""
        groups = list(
            dict.fromkeys(
                rule.groups
                for rule in self.spec.rules
                if rule.groups and self.on not in rule.groups
            )
        )
        if not groups or not values:
            return values
        known = set(values)
        changed = self.changes.get(self.driving_name)
        # Rows since gone still held their group together: their groups are looked up once.
        gone = changed.before if changed is not None else None
        added = known
        while added:
            chosen = restrict(self.driving, self.on, sorted(added, key=repr))
            found: list[DataFrame] = []
            for columns in groups:
                tuples = chosen.select(*columns)
                if gone is not None:
                    tuples = tuples.unionByName(gone.select(*columns))
                tuples = F.broadcast(tuples.distinct())
                matched = self.driving.join(
                    tuples, _null_safe(self.driving, tuples, columns), "left_semi"
                )
                found.append(matched.select(self.on))
            added = set(_collect(found, self.on)) - known
            known |= added
            gone = None
        return sorted(known, key=repr)


def restrict(rows: DataFrame, column: str, values: Sequence[object]) -> DataFrame:
    """The rows whose `column` is one of `values` (null matches null).

    A semi join with the values as a small broadcast table, so that Spark prunes what it reads
    instead of shuffling the rows.
    """
    return restrict_to(rows, column, as_frame(rows, column, values))


def restrict_to(
    rows: DataFrame, column: str, wanted: DataFrame, how: str = "left_semi"
) -> DataFrame:
    """The rows whose `column` holds a value of `wanted` (a small frame with a column of that
    name; null matches null), or with `how="left_anti"` the others."""
    listed = F.broadcast(wanted.select(F.col(column).alias("_listed")))
    return rows.join(listed, rows[column].eqNullSafe(listed["_listed"]), how)


def without(rows: DataFrame, column: str, values: Sequence[object]) -> DataFrame:
    """The rows whose `column` is none of `values` (null matches null)."""
    return restrict_to(rows, column, as_frame(rows, column, values), "left_anti")


def as_frame(rows: DataFrame, column: str, values: Sequence[object]) -> DataFrame:
    """`values` as a one-column frame, named and typed as `rows[column]`."""
    schema = rows.select(column).schema
    return rows.sparkSession.createDataFrame([(value,) for value in values], schema)


def _collect(pieces: Sequence[DataFrame], column: str) -> list[object]:
    if not pieces:
        return []
    union = reduce(lambda left, right: left.unionByName(right), pieces)
    return sorted({row[0] for row in union.select(column).distinct().collect()}, key=repr)


def _null_safe(left: DataFrame, right: DataFrame, columns: Sequence[str]) -> Column:
    return reduce(lambda a, b: a & b, (left[name].eqNullSafe(right[name]) for name in columns))
