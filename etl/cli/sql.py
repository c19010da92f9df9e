"""`rainforest sql`: query the lake's tables and the interface views without writing Python."""

from __future__ import annotations

import csv
import logging
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from etl.cli._output import console, exits_cleanly, print_table
from etl.cli._wiring import open_catalog
from etl.services.settings import ServiceSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


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

    _quiet_query_context_logs()
    settings = ServiceSettings.load()
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


def _print_csv(result: DataFrame) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(result.columns)
    # Partition by partition, in order, so a large result never sits whole in the driver.
    for row in result.toLocalIterator():
        writer.writerow(row)


def _quiet_query_context_logs() -> None:
    """PySpark logs every query error as JSON on stderr before raising it; the command prints
    the error itself, once and readably."""
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)
