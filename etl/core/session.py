"""The Spark session factory: one place that turns `Settings` into a configured session."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from etl.core.settings import Settings

DEFAULT_APP_NAME = "rainforest"


def spark_conf(settings: Settings, *, app_name: str = DEFAULT_APP_NAME) -> dict[str, str]:
    """The session's configuration, apart so that tests and `stack status` can show it."""
    conf = {
        "spark.app.name": app_name,
        "spark.master": settings.spark_master,
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.ui.enabled": str(settings.spark_ui).lower(),
        "spark.ui.showConsoleProgress": "false",
        # Python data source readers implementing pushFilters fail while this is off.
        "spark.sql.python.filterPushdown.enabled": "true",
        # Delta wants microsecond timestamps; Spark's INT96 default is not in the protocol.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.maxRecordsPerBatch": "65536",
        # Executors must run the interpreter that has the project and its dependencies.
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    if settings.jdbc_jar.is_file():
        conf["spark.jars"] = str(settings.jdbc_jar)
    if settings.spark_event_log_dir:
        conf["spark.eventLog.enabled"] = "true"
        conf["spark.eventLog.dir"] = settings.spark_event_log_dir
    return conf


def build_session(settings: Settings, *, app_name: str = DEFAULT_APP_NAME) -> SparkSession:
    """Get or create the session for these settings.

    The lake data source needs no registration call: the installed package
    `pyspark_rainforest` exposes it as `DefaultSource`, which Spark finds by itself.
    """
    # Python workers (UDFs, the lake data source) start from PYSPARK_PYTHON, which
    # spark.pyspark.python does not reliably override in local mode.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in spark_conf(settings, app_name=app_name).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
