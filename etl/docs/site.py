"""Builds the docs site: an index with the whole graph and a search, and a page per table.

Everything comes from what the project already records: the specs (layer, grain, keys,
strategy, rules, column descriptions), the Delta logs (column types, rows and bytes per
version), the run log (`ops/runs`), the quality results (`ops/dq_results`) and, when given,
the column lineage. Pages are Jinja2 templates; charts are SVG files drawn by matplotlib; the
site needs no server code and no network (a static folder any web server can serve).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from pyspark.sql.pandas.types import from_arrow_type

from etl.core.lake import LakeLog
from etl.core.lake.records import read_records
from etl.core.lake.storage import Storage, local_path
from etl.core.lake.versions import TableVersion, table_history
from etl.core.lineage import ColumnRef, ColumnSource, TableLineage, table_graph
from etl.core.quality.results import data_docs_folder, results_uri
from etl.core.runlog import LoggedTable, read_run_log
from etl.core.source_table import LINEAGE_COLUMNS, SourceTable
from etl.docs.charts import history_chart
from etl.docs.graph import Drawing, draw

if TYPE_CHECKING:
    from etl.core.registry import Registry
    from etl.core.settings import Settings
    from etl.core.table import Table

RUNS_SHOWN = 10
"""Runs listed per table, and runs in its quality trend."""
VERSIONS_CHARTED = 30
"""Versions of a table its row and size charts cover."""
TABLES_FOLDER = "tables"
DATA_DOCS_FOLDER = "data_docs"


def docs_folder(settings: Settings) -> Path:
    """Beside the tables on a local warehouse (`ops/docs`); in the state folder when the lake
    is on S3."""
    if settings.warehouse_is_local:
        return Path(local_path(settings.warehouse_uri)) / "ops" / "docs"
    return settings.state_dir / "docs"


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    type: str
    description: str | None
    """None when the spec does not document the column."""
    sources: tuple[ColumnSource, ...] = ()


@dataclass(frozen=True)
class QualityTrend:
    """Each rule's verdict in each of the table's last checked runs (None: not checked)."""

    runs: tuple[tuple[str, datetime], ...]
    rules: tuple[tuple[str, str, tuple[bool | None, ...]], ...]
    """(rule, severity, a verdict per run)."""


@dataclass(frozen=True, kw_only=True)
class TablePage:
    table: type[Table]
    name: str
    layer: str
    description: str
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    version: int | None
    rows: int | None
    size_bytes: int | None
    columns: tuple[ColumnDoc, ...]
    runs: tuple[LoggedTable, ...]
    quality: QualityTrend
    graph: Drawing
    joins: tuple[tuple[ColumnRef, ColumnRef], ...] = ()
    filters: tuple[ColumnRef, ...] = ()
    charts: dict[str, str] = field(default_factory=dict)
    """Chart title -> file name, beside the page (none for a table never built)."""

    @property
    def undocumented(self) -> int:
        return sum(column.description is None for column in self.columns)


def build_site(
    settings: Settings,
    registry: Registry,
    folder: Path,
    *,
    source_schema: str,
    lineage: Sequence[TableLineage] = (),
) -> Path:
    """Write the site into `folder` (its pages replaced, nothing else in it touched); returns
    the index page."""
    lake = LakeLog(settings)
    storage = Storage.from_settings(settings)
    runs = _by_table(read_run_log(settings))
    checks = _checks(settings, storage)
    by_table = {found.table: found for found in lineage}
    edges = table_graph(registry, source_schema)
    pages_folder = folder / TABLES_FOLDER
    pages_folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for table in registry.build_order():
        uri = table.uri_in(settings)
        # One read of the recent history serves the page's facts and its charts.
        versions = table_history(uri, storage, last=VERSIONS_CHARTED) if lake.exists(uri) else []
        charts = {}
        for title, (file_name, points, unit) in _histories(table, versions).items():
            (pages_folder / file_name).write_text(history_chart(points, title=title, unit=unit))
            charts[title] = file_name
        page = _page(
            table,
            lake.schema(uri) if versions else None,
            versions,
            runs=runs.get(table.spec.qualified_name, []),
            checks=checks.get(table.spec.qualified_name, []),
            lineage=by_table.get(table.spec.qualified_name),
            edges=edges,
            source_schema=source_schema,
            charts=charts,
        )
        pages.append(page)
    data_docs = _copy_data_docs(settings, folder)
    templates = _templates()
    for page in pages:
        html = templates.get_template("table.html.j2").render(
            page=page, root="../", data_docs=data_docs, lineage_known=bool(lineage)
        )
        (pages_folder / f"{page.name}.html").write_text(html)
    index = folder / "index.html"
    index.write_text(
        templates.get_template("index.html.j2").render(
            pages=pages,
            drawing=draw(edges),
            root="",
            data_docs=data_docs,
            warehouse=settings.warehouse_uri,
        )
    )
    static = folder / "static"
    static.mkdir(exist_ok=True)
    for asset in (Path(__file__).parent / "static").iterdir():
        shutil.copyfile(asset, static / asset.name)
    return index


def _page(
    table: type[Table],
    schema: pa.Schema | None,
    versions: Sequence[TableVersion],
    *,
    runs: list[LoggedTable],
    checks: list[dict[str, object]],
    lineage: TableLineage | None,
    edges: Sequence[tuple[str, str]],
    source_schema: str,
    charts: dict[str, str],
) -> TablePage:
    """The page of `table`, whose latest `schema` and recent `versions` (newest first) are
    read already."""
    spec = table.spec
    name = spec.qualified_name
    sources = lineage.columns if lineage is not None else {}
    types = {f.name: from_arrow_type(f.type).simpleString() for f in schema} if schema else {}
    names = list(types) or list(sources)
    columns = tuple(
        ColumnDoc(
            name=column,
            type=types.get(column, ""),
            description=_described(table, column, source_schema),
            sources=sources.get(column, ()),
        )
        for column in names
    )
    latest = versions[0] if versions else None
    return TablePage(
        table=table,
        name=name,
        layer=spec.placed_layer,
        description=spec.description or (table.__doc__ or "").strip(),
        upstream=tuple(source for source, target in edges if target == name),
        downstream=tuple(target for source, target in edges if source == name),
        version=latest.version if latest else None,
        rows=latest.rows if latest else None,
        size_bytes=latest.size_bytes if latest else None,
        columns=columns,
        runs=tuple(reversed(runs[-RUNS_SHOWN:])),
        quality=_trend(table, checks),
        graph=draw(_edges_around(edges, name), highlighted=name),
        joins=lineage.joins if lineage is not None else (),
        filters=lineage.filters if lineage is not None else (),
        charts=charts,
    )


def _edges_around(edges: Sequence[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    """The edges into and out of `name`: the tables it reads and those that read it."""
    return [(source, target) for source, target in edges if name in (source, target)]


def _described(table: type[Table], column: str, source_schema: str) -> str | None:
    declared = table.spec.column_descriptions.get(column)
    if declared is not None or not issubclass(table, SourceTable):
        return declared
    if column in LINEAGE_COLUMNS:
        return LINEAGE_COLUMNS[column]
    return f"As upstream, in {source_schema}.{table.spec.name}.{column}."


def _histories(
    table: type[Table], versions: Sequence[TableVersion]
) -> dict[str, tuple[str, list[tuple[datetime, float]], str]]:
    """Chart title -> (file name, points, unit) for the rows and bytes of `versions`."""
    if not versions:
        return {}
    oldest_first = list(reversed(versions))
    name = table.spec.qualified_name
    return {
        "Rows": (f"{name}.rows.svg", [(v.timestamp, v.rows) for v in oldest_first], ""),
        "Storage": (f"{name}.size.svg", [(v.timestamp, v.size_bytes) for v in oldest_first], "B"),
    }


def _by_table(logged: Sequence[LoggedTable]) -> dict[str, list[LoggedTable]]:
    found: dict[str, list[LoggedTable]] = {}
    for row in logged:
        found.setdefault(row.table, []).append(row)
    return found


def _checks(settings: Settings, storage: Storage) -> dict[str, list[dict[str, object]]]:
    """The quality results, by table, in the order they were recorded."""
    rows = read_records(results_uri(settings), storage)
    found: dict[str, list[dict[str, object]]] = {}
    for row in rows.to_pylist() if rows is not None else []:
        found.setdefault(str(row["table"]), []).append(row)
    return found


def _trend(table: type[Table], checks: Sequence[Mapping[str, object]]) -> QualityTrend:
    runs: dict[str, datetime] = {}
    for check in checks:
        runs.setdefault(str(check["run_id"]), check["run_ts"])  # type: ignore[arg-type]
    shown = sorted(runs.items(), key=lambda run: run[1])[-RUNS_SHOWN:]
    verdicts = {(str(c["rule"]), str(c["run_id"])): bool(c["success"]) for c in checks}
    severities = {str(c["rule"]): str(c["severity"]) for c in checks}
    severities |= {rule.name: rule.severity for rule in table.spec.all_rules}
    rules = [rule.name for rule in table.spec.all_rules]
    rules += sorted(set(severities) - set(rules))
    return QualityTrend(
        runs=tuple(shown),
        rules=tuple(
            (rule, severities[rule], tuple(verdicts.get((rule, run_id)) for run_id, _ in shown))
            for rule in rules
        ),
    )


def _copy_data_docs(settings: Settings, folder: Path) -> str | None:
    """The Great Expectations Data Docs, copied into the site so that any server of the site
    serves them too; their index page relative to the site, or None when there are none."""
    source = data_docs_folder(settings)
    if not (source / "index.html").is_file():
        return None
    shutil.copytree(source, folder / DATA_DOCS_FOLDER, dirs_exist_ok=True)
    return f"{DATA_DOCS_FOLDER}/index.html"


def _prose(text: str) -> Markup:
    """Text with `code` in backticks shown as code, everything else escaped."""
    parts = str(escape(text)).split("`")
    return Markup(
        "".join(f"<code>{part}</code>" if odd else part for odd, part in _alternating(parts))
    )


def _alternating(parts: Sequence[str]) -> list[tuple[bool, str]]:
    """Pairs (inside backticks, text); an unpaired last backtick is left as text."""
    if len(parts) % 2 == 0:
        parts = [*parts[:-2], f"{parts[-2]}`{parts[-1]}"]
    return [(index % 2 == 1, part) for index, part in enumerate(parts)]


def _templates() -> Environment:
    environment = Environment(
        loader=PackageLoader("etl.docs", "templates"),
        autoescape=select_autoescape(["html", "svg", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["prose"] = _prose
    environment.filters["count"] = lambda value: "" if value is None else f"{value:,}"
    environment.filters["megabytes"] = lambda value: (
        "" if value is None else f"{value / 1e6:,.1f} MB"
    )
    return environment
