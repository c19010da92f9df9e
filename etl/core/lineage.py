"""Where every column comes from, read off each transform's analyzed Spark plan.

Nothing is declared by hand: each table's transform runs on empty inputs of its upstream
tables' schemas (no row is read), and the analyzed plan of the result says, for every output
column, which input columns it was made of and how:

- `copied`: the same value under the same name;
- `renamed`: the same value under another name;
- `computed`: an expression of its sources;
- `aggregated`: an aggregate (sum, mean, count...) of its sources, over the table's groups.

Rows are also chosen by columns that reach no output column: the columns compared in a join
condition (`join key`) and in a filter (`filter`) are listed for the table as a whole, and an
output column that is a join key also lists the other side's key. Source tables copy their
upstream database table's columns; the framework adds their lineage columns (`etl_*`).
Following the sources table by table walks a column back to Postgres.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from etl.core.source_table import LINEAGE_COLUMNS, SourceTable
from etl.core.table import Table, TableLookup, transform_inputs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from etl.core.registry import Registry
    from etl.core.table import RunContext

How = Literal["copied", "renamed", "computed", "aggregated", "join key"]
_STRENGTH: dict[str, int] = {"copied": 0, "renamed": 1, "computed": 2, "aggregated": 3}
"""Following a column through several steps, the strongest step names how it was made."""


@dataclass(frozen=True, order=True)
class ColumnRef:
    """A column of a lake table (`layer.name`) or of an upstream database table
    (`postgres:schema.name`)."""

    table: str
    column: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True, order=True)
class ColumnSource:
    """One column a column comes from, and how."""

    source: ColumnRef
    how: How


@dataclass(frozen=True, kw_only=True)
class TableLineage:
    """A table's columns, each with its sources; and the columns that chose its rows."""

    table: str
    columns: dict[str, tuple[ColumnSource, ...]]
    """Every output column, in the table's order (a column made of constants has none)."""
    joins: tuple[tuple[ColumnRef, ColumnRef], ...] = ()
    """Pairs of columns compared in a join condition."""
    filters: tuple[ColumnRef, ...] = ()
    """Columns a filter (or a join condition beyond equal keys) looks at."""


@dataclass
class _Walk:
    """What a plan walk knows: for each attribute (by expression id), the input columns it
    comes from and how; and what join conditions and filters looked at."""

    inputs: Mapping[int, ColumnRef]
    by_names: Mapping[tuple[str, ...], str]
    joins: set[tuple[ColumnRef, ColumnRef]] = field(default_factory=set)
    filters: set[ColumnRef] = field(default_factory=set)


def table_graph(
    registry: Registry, source_schema: str, *, around: str | None = None
) -> list[tuple[str, str]]:
    """The edges (upstream, table) between tables, qualified, from the specs alone; a source
    table's upstream is its database table (`postgres:schema.name`). With `around`, only the
    tables it reads from and those that read it, directly or not."""
    edges = []
    for table in registry.build_order():
        spec = table.spec
        if issubclass(table, SourceTable):
            edges.append((f"postgres:{source_schema}.{spec.name}", spec.qualified_name))
        edges += [
            (registry.get(name).spec.qualified_name, spec.qualified_name) for name in spec.upstream
        ]
    if around is None:
        return edges
    center = registry.get(around).spec.qualified_name
    kept = (
        {center} | _reached(edges, center, upstream=True) | _reached(edges, center, upstream=False)
    )
    return [(source, target) for source, target in edges if source in kept and target in kept]


def _reached(edges: Sequence[tuple[str, str]], start: str, *, upstream: bool) -> set[str]:
    found: set[str] = set()
    frontier = {start}
    while frontier:
        step = {
            (source if upstream else target)
            for source, target in edges
            if (target if upstream else source) in frontier
        }
        frontier = step - found
        found |= step
    return found


def ancestry(found: Sequence[TableLineage], table: str) -> list[TableLineage]:
    """`table`'s lineage and, back to the source tables, that of every column its columns
    come from or its rows were chosen by (only those columns), in build order."""
    by_table = {lineage.table: lineage for lineage in found}
    wanted: dict[str, set[str]] = {table: set(by_table[table].columns)}
    for lineage in reversed(found):
        for column in wanted.get(lineage.table, ()):
            for source in lineage.columns.get(column, ()):
                wanted.setdefault(source.source.table, set()).add(source.source.column)
        if lineage.table in wanted:
            for ref in (*lineage.filters, *(side for pair in lineage.joins for side in pair)):
                wanted.setdefault(ref.table, set()).add(ref.column)
    return [
        TableLineage(
            table=lineage.table,
            columns={c: s for c, s in lineage.columns.items() if c in wanted[lineage.table]},
            joins=lineage.joins,
            filters=lineage.filters,
        )
        for lineage in found
        if lineage.table in wanted
    ]


def model_lineage(
    context: RunContext, registry: Registry, source_schema: str
) -> list[TableLineage]:
    """The column lineage of every table of `registry`, in build order.

    Source tables' columns come from their current schema in the lake, so they must have been
    built; every other table's schema is what its transform makes of its inputs' schemas, so
    an edited transform shows its lineage before it is built.
    """
    spark = context.spark
    schemas: dict[str, StructType] = {}
    found: list[TableLineage] = []
    for table in registry.build_order():
        if issubclass(table, SourceTable):
            data = table(context).read().curr_data
            schemas[table.spec.name] = data.schema
            found.append(source_lineage(table, data.columns, source_schema))
            continue
        inputs = {name: _empty(spark, schemas[name]) for name in table.spec.upstream}
        lineage, output = table_lineage(table(context), inputs, registry)
        schemas[table.spec.name] = output.schema
        found.append(lineage)
    return found


def source_lineage(table: type[SourceTable], columns: Sequence[str], schema: str) -> TableLineage:
    """A source table copies its upstream table's columns; the framework adds the rest."""
    upstream = f"postgres:{schema}.{table.spec.name}"
    return TableLineage(
        table=table.spec.qualified_name,
        columns={
            column: ()
            if column in LINEAGE_COLUMNS
            else (ColumnSource(ColumnRef(upstream, column), "copied"),)
            for column in columns
        },
    )


def table_lineage(
    table: Table, inputs: Mapping[str, DataFrame], registry: TableLookup
) -> tuple[TableLineage, DataFrame]:
    """The lineage of `table`'s transform over `inputs` (by upstream name), and its output."""
    taken = transform_inputs(type(table), inputs)
    output = table.transform(**taken)
    ids: dict[int, ColumnRef] = {}
    by_names: dict[tuple[str, ...], str] = {}
    for name, frame in taken.items():
        qualified = registry.get(name).spec.qualified_name
        for attribute in _seq(frame._jdf.queryExecution().analyzed().output()):
            ids[_id(attribute)] = ColumnRef(qualified, attribute.name())
        by_names.setdefault(tuple(frame.columns), qualified)
    walk = _Walk(inputs=ids, by_names=by_names)
    plan = output._jdf.queryExecution().analyzed()
    origins = _origins(plan, walk)
    joined: dict[ColumnRef, set[ColumnRef]] = {}
    for left, right in walk.joins:
        joined.setdefault(left, set()).add(right)
        joined.setdefault(right, set()).add(left)
    columns: dict[str, tuple[ColumnSource, ...]] = {}
    for attribute in _seq(plan.output()):
        made = origins.get(_id(attribute), {})
        sources = {ColumnSource(ref, how) for ref, how in made.items()}
        sources |= {
            ColumnSource(other, "join key")
            for ref in made
            for other in joined.get(ref, ())
            if other not in made
        }
        columns[attribute.name()] = tuple(sorted(sources))
    lineage = TableLineage(
        table=table.spec.qualified_name,
        columns=columns,
        joins=tuple(sorted(tuple(sorted(pair)) for pair in walk.joins)),  # type: ignore[misc]
        filters=tuple(sorted(walk.filters)),
    )
    return lineage, output


def _origins(plan: Any, walk: _Walk) -> dict[int, dict[ColumnRef, How]]:
    """For each output attribute of `plan` (by expression id), the input columns it comes
    from and how; records join keys and filters on the way."""
    kind = plan.nodeName()
    children = _seq(plan.children())
    if not children:
        return _leaf(plan, walk)
    known: dict[int, dict[ColumnRef, How]] = {}
    for child in children:
        known.update(_origins(child, walk))
    expressions = _seq(plan.expressions())
    if kind == "Filter":
        walk.filters.update(_refs(expressions, known))
    elif kind == "Join":
        for condition in expressions:
            _record_join(condition, known, walk)
    elif kind == "Union":
        return _union(plan, children, known)
    defined = {
        _id(expression): expression
        for expression in expressions
        if expression.getClass().getSimpleName() == "Alias"
    }
    result: dict[int, dict[ColumnRef, How]] = {}
    for attribute in _seq(plan.output()):
        number = _id(attribute)
        if number in known:
            result[number] = known[number]
        elif number in defined:
            result[number] = _made_by(defined[number], attribute.name(), known)
        else:  # generated columns (explode...): made from whatever the node computes with
            result[number] = _combined(_refs_of(expressions, known), "computed")
    return result


def _leaf(plan: Any, walk: _Walk) -> dict[int, dict[ColumnRef, How]]:
    """An input's attributes, by id; an input the analyzer copied under new ids (to join a
    table with itself) is known by its column names."""
    output = _seq(plan.output())
    result: dict[int, dict[ColumnRef, How]] = {}
    names = tuple(attribute.name() for attribute in output)
    for attribute in output:
        ref = walk.inputs.get(_id(attribute))
        if ref is None and names in walk.by_names:
            ref = ColumnRef(walk.by_names[names], attribute.name())
        if ref is not None:
            result[_id(attribute)] = {ref: "copied"}
    return result


def _union(
    plan: Any, children: Sequence[Any], known: Mapping[int, dict[ColumnRef, How]]
) -> dict[int, dict[ColumnRef, How]]:
    """A union's columns are its children's, by position."""
    result: dict[int, dict[ColumnRef, How]] = {}
    for position, attribute in enumerate(_seq(plan.output())):
        merged: dict[ColumnRef, How] = {}
        for child in children:
            for ref, how in known.get(_id(_seq(child.output())[position]), {}).items():
                merged[ref] = _stronger(merged.get(ref, "copied"), how)
        result[_id(attribute)] = merged
    return result


def _made_by(
    alias: Any, name: str, known: Mapping[int, dict[ColumnRef, How]]
) -> dict[ColumnRef, How]:
    child = alias.child()
    simple = child.getClass().getSimpleName()
    if simple == "AttributeReference":
        how: How = "copied" if child.name() == name else "renamed"
    elif _aggregates(child):
        how = "aggregated"
    else:
        how = "computed"
    return _combined(_refs_of([child], known), how)


def _combined(made_of: Iterator[dict[ColumnRef, How]], how: How) -> dict[ColumnRef, How]:
    result: dict[ColumnRef, How] = {}
    for origins in made_of:
        for ref, earlier in origins.items():
            result[ref] = _stronger(result.get(ref, "copied"), _stronger(earlier, how))
    return result


def _stronger(one: How, other: How) -> How:
    return one if _STRENGTH[one] >= _STRENGTH[other] else other


def _record_join(condition: Any, known: Mapping[int, dict[ColumnRef, How]], walk: _Walk) -> None:
    """Equal keys (`a = b`, `a <=> b`, under `AND`s) are join keys; anything else the
    condition compares filters the joined rows."""
    simple = condition.getClass().getSimpleName()
    if simple == "And":
        for part in _seq(condition.children()):
            _record_join(part, known, walk)
        return
    sides = _seq(condition.children())
    if simple in ("EqualTo", "EqualNullSafe") and all(
        side.getClass().getSimpleName() == "AttributeReference" for side in sides
    ):
        left, right = (set(known.get(_id(side), {})) for side in sides)
        walk.joins.update((a, b) for a in left for b in right if a != b)
        return
    walk.filters.update(_refs([condition], known))


def _aggregates(expression: Any) -> bool:
    if expression.getClass().getSimpleName() == "AggregateExpression":
        return True
    return any(_aggregates(child) for child in _seq(expression.children()))


def _refs(expressions: Sequence[Any], known: Mapping[int, dict[ColumnRef, How]]) -> set[ColumnRef]:
    return {ref for origins in _refs_of(expressions, known) for ref in origins}


def _refs_of(
    expressions: Sequence[Any], known: Mapping[int, dict[ColumnRef, How]]
) -> Iterator[dict[ColumnRef, How]]:
    for expression in expressions:
        for attribute in _seq(expression.references().toSeq()):
            yield known.get(_id(attribute), {})


def _empty(spark: SparkSession, schema: StructType) -> DataFrame:
    return spark.createDataFrame([], schema)


def _id(attribute: Any) -> int:
    return int(attribute.exprId().id())


def _seq(scala: Any) -> list[Any]:
    iterator = scala.iterator()
    items = []
    while iterator.hasNext():
        items.append(iterator.next())
    return items
