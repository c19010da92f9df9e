"""`rainforest lineage [TABLE] [--columns] [--format text|mermaid|dot|json]`.

The table graph comes from the specs alone (no Spark); column lineage runs every transform on
empty inputs in a local Spark session and reads the analyzed plans (see `etl.core.lineage`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from enum import StrEnum
from typing import Annotated

import typer

from etl.cli._output import console, exits_cleanly
from etl.core.errors import ConfigError
from etl.core.lineage import ColumnRef, TableLineage, ancestry, table_graph
from etl.core.registry import Registry
from etl.services.settings import ServiceSettings


class LineageFormat(StrEnum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


@exits_cleanly
def lineage(
    table: Annotated[
        str | None,
        typer.Argument(help="A table; its upstream and downstream tables. None: every table."),
    ] = None,
    columns: Annotated[
        bool,
        typer.Option(
            "--columns",
            help="For every column, the columns it comes from and how (copied, renamed, "
            "computed, aggregated, join key), back to Postgres, and the join keys and filters "
            "that chose the rows. Starts a local Spark session and needs the source tables "
            "built (their schemas are read).",
        ),
    ] = False,
    output: Annotated[
        LineageFormat,
        typer.Option("--format", help="text, a Mermaid flowchart, a Graphviz graph or JSON."),
    ] = LineageFormat.text,
) -> None:
    """Show where tables, or with --columns their columns, come from."""
    from datagen import SCHEMA

    registry = Registry.discover()
    if not columns:
        edges = table_graph(registry, SCHEMA, around=table)
        console.print(_render_tables(edges, output), markup=False, highlight=False, soft_wrap=True)
        return
    unbuilt = unbuilt_sources(ServiceSettings.load(), registry)
    if unbuilt:
        raise ConfigError(
            f"Column lineage reads the source tables' schemas, and {', '.join(unbuilt)} "
            "are not built yet: run `rainforest run` first."
        )
    found = column_lineage(registry, SCHEMA)
    if table is not None:
        found = ancestry(found, registry.get(table).spec.qualified_name)
    console.print(_render_columns(found, output), markup=False, highlight=False, soft_wrap=True)


def unbuilt_sources(settings: ServiceSettings, registry: Registry) -> list[str]:
    """The source tables not built yet, whose schemas column lineage would need."""
    from etl.core.lake import LakeLog
    from etl.core.source_table import SourceTable

    lake = LakeLog(settings)
    return [
        table.spec.qualified_name
        for table in registry
        if issubclass(table, SourceTable) and not lake.exists(table.uri_in(settings))
    ]


def column_lineage(registry: Registry, schema: str) -> list[TableLineage]:
    """The model's column lineage, from a local Spark session's analyzed plans."""
    from etl.core.lineage import model_lineage
    from etl.core.pipeline import new_context
    from etl.core.session import build_session

    settings = ServiceSettings.load()
    # Only plans are analyzed: one local core is enough, whatever the profile's master.
    local = settings.model_copy(update={"spark_master": "local[1]", "spark_shuffle_partitions": 1})
    with console.status("analyzing every transform's plan"):
        spark = build_session(local)
        return model_lineage(new_context(spark, local, registry), registry, schema)


def _render_tables(edges: list[tuple[str, str]], output: LineageFormat) -> str:
    if output is LineageFormat.json:
        upstream: dict[str, list[str]] = {}
        for source, target in edges:
            upstream.setdefault(target, []).append(source)
            upstream.setdefault(source, [])
        return json.dumps([{"table": t, "upstream": u} for t, u in upstream.items()], indent=2)
    if output is LineageFormat.mermaid:
        return "\n".join(["flowchart LR", *(f"  {_node(s)} --> {_node(t)}" for s, t in edges)])
    if output is LineageFormat.dot:
        lines = [f"  {_quoted(s)} -> {_quoted(t)};" for s, t in edges]
        return "\n".join(["digraph lineage {", "  rankdir=LR;", *lines, "}"])
    by_target: dict[str, list[str]] = {}
    for source, target in edges:
        by_target.setdefault(target, []).append(source)
    return "\n".join(f"{target} <- {', '.join(sources)}" for target, sources in by_target.items())


def _render_columns(found: list[TableLineage], output: LineageFormat) -> str:
    if output is LineageFormat.json:
        return json.dumps([_as_json(table) for table in found], indent=2)
    edges = [
        (str(source.source), f"{table.table}.{column}", source.how)
        for table in found
        for column, sources in table.columns.items()
        for source in sources
    ]
    if output is LineageFormat.mermaid:
        lines = ["flowchart LR"]
        for table in found:
            lines.append(f"  subgraph {_id(table.table)}[{table.table}]")
            lines += [f"    {_node(f'{table.table}.{c}', c)}" for c in table.columns]
            lines.append("  end")
        lines += [f"  {_id(s)} -- {how} --> {_id(t)}" for s, t, how in edges]
        return "\n".join(lines)
    if output is LineageFormat.dot:
        lines = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box];"]
        for number, table in enumerate(found):
            lines.append(f"  subgraph cluster_{number} {{ label={_quoted(table.table)};")
            lines += [
                f"    {_quoted(f'{table.table}.{c}')} [label={_quoted(c)}];" for c in table.columns
            ]
            lines.append("  }")
        lines += [f"  {_quoted(s)} -> {_quoted(t)} [label={_quoted(how)}];" for s, t, how in edges]
        return "\n".join([*lines, "}"])
    return "\n".join(_text(found))


def _text(found: Iterable[TableLineage]) -> Iterable[str]:
    for table in found:
        yield table.table
        for column, sources in table.columns.items():
            made = ", ".join(f"{source.source} ({source.how})" for source in sources)
            yield f"  {column} <- {made or '(the framework)'}"
        for left, right in table.joins:
            yield f"  join key: {left} = {right}"
        if table.filters:
            yield f"  filter: {', '.join(map(str, table.filters))}"


def _as_json(table: TableLineage) -> dict[str, object]:
    def ref(column: ColumnRef) -> dict[str, str]:
        return asdict(column)

    return {
        "table": table.table,
        "columns": [
            {
                "column": column,
                "sources": [{**ref(s.source), "how": s.how} for s in sources],
            }
            for column, sources in table.columns.items()
        ],
        "joins": [[ref(left), ref(right)] for left, right in table.joins],
        "filters": [ref(column) for column in table.filters],
    }


def _id(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _node(name: str, label: str | None = None) -> str:
    return f'{_id(name)}["{label or name}"]'


def _quoted(text: str) -> str:
    return json.dumps(text)
