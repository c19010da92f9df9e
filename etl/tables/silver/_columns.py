"""Steps every silver table applies to its bronze inputs."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def latest(rows: DataFrame, key: str) -> DataFrame:
    """Each key's newest version, so that reruns and rows copied twice upstream yield one row.

    Newest is the greatest `last_updated_ts`; between equal ones the later ingestion
    (`etl_inserted`) wins, as it saw the upstream row last.
    """
    newest_first = Window.partitionBy(key).orderBy(
        F.col("last_updated_ts").desc(), F.col("etl_inserted").desc()
    )
    return (
        rows.withColumn("_version", F.row_number().over(newest_first))
        .filter(F.col("_version") == 1)
        .drop("_version")
    )
