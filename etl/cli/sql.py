"""`rainforest sql`: query the lake's tables and the interface views without writing Python."""

from __future__ import annotations

import csv
import logging
import sys
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from etl.cli._output import console, exits_cleanly

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from etl.core.catalog import Catalog
    from etl.core.settings import Settings

VIEWS_PACKAGE = "etl.interface"


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"


@exits_cleanly
def sql(
    query: Annotated[
        str, typer.Argument(help="A Spark SQL query, e.g. 'SELECT * FROM daily_order_report'.")
    ],
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table for people, csv for programs.")
    ] = OutputFormat.table,
    max_rows: Annotated[
        int, typer.Option(min=1, help="Rows shown as a table; csv prints every row.")
    ] = 1000,
) -> None:
    """Run a SQL query over every built table and the interface views; print the result.

    Tables are named without their layer (wide_orders, daily_order_metrics); `SHOW VIEWS`
    lists every name.
    """
    from etl.core.session import build_session
    from etl.core.settings import get_settings

    _quiet_query_context_logs()
    settings = get_settings()
    catalog = open_catalog(build_session(settings, app_name="rainforest-sql"), settings)
    with catalog.explained_errors():
        result = catalog.spark.sql(query)
        if output is OutputFormat.csv:
            _print_csv(result)
        else:
            if print_table(result, max_rows):
                console.print(
                    f"[yellow]Showing the first {max_rows} rows; raise --max-rows or use "
                    "--format csv for all.[/]"
                )


def open_catalog(spark: SparkSession, settings: Settings) -> Catalog:
    """The project's catalog: every built table of the registry and the interface views."""
    from etl.core.catalog import Catalog
    from etl.core.registry import Registry

    catalog = Catalog(spark, settings, Registry.discover(), views_dir=views_dir())
    catalog.refresh()
    return catalog


def views_dir() -> Path:
    """The installed folder of the interface views' `.sql` files."""
    return Path(str(files(VIEWS_PACKAGE)))


def _print_csv(result: DataFrame) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(result.columns)
    # Partition by partition, in order, so a large result never sits whole in the driver.
    for row in result.toLocalIterator():
        writer.writerow(row)


def print_table(result: DataFrame, max_rows: int) -> bool:
    """Print at most `max_rows` rows; whether there were more."""
    from pyspark.sql.types import NumericType
    from rich.table import Table as RichTable
    from rich.text import Text

    rows = result.limit(max_rows + 1).collect()
    shown = RichTable()
    for field in result.schema.fields:
        numeric = isinstance(field.dataType, NumericType)
        shown.add_column(field.name, justify="right" if numeric else "left")
    for row in rows[:max_rows]:
        # Text, not markup: a value like "[b]" must print as it is.
        shown.add_row(*(Text("NULL", "dim") if v is None else Text(str(v)) for v in row))
    console.print(shown)
    return len(rows) > max_rows


def _quiet_query_context_logs() -> None:
    """PySpark logs every query error as JSON on stderr before raising it; the command prints
    the error itself, once and readably."""
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)
