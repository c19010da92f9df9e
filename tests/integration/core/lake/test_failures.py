"""A write that fails half-way leaves the previous version, its history and its folder intact."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from etl.core.errors import LakeWriteError
from etl.core.lake import Lake
from etl.core.settings import Settings
from tests.integration.core.lake.support import (
    ROWS,
    data_files,
    expected_rows,
    live_files,
    poisoned,
    spark_rows,
    typed_frame,
)

pytestmark = pytest.mark.spark


@pytest.fixture
def table(spark: SparkSession, local_settings: Settings) -> tuple[Lake, str]:
    lake = Lake(spark, local_settings)
    uri = local_settings.table_uri("silver", "orders")
    lake.write(typed_frame(spark, ROWS[:2]), uri, partition_by=["region"])
    return lake, uri


def _assert_untouched(lake: Lake, uri: str) -> None:
    assert [entry["version"] for entry in lake.history(uri)] == [0]
    assert spark_rows(lake.read(uri)) == expected_rows(ROWS[:2])
    folder = Path(uri.removeprefix("file://"))
    assert data_files(folder) == live_files(uri)
    assert not (folder / "_staging").exists()


@pytest.mark.parametrize("mode", ["append", "overwrite", "overwrite_partitions"])
def test_failed_write_keeps_the_previous_version(
    spark: SparkSession, table: tuple[Lake, str], mode: str
) -> None:
    lake, uri = table
    with pytest.raises(LakeWriteError, match="keeps its previous version"):
        lake.write(poisoned(spark), uri, mode=mode, partition_by=["region"])  # type: ignore[arg-type]
    _assert_untouched(lake, uri)


def test_failed_python_writer_removes_its_files(
    spark: SparkSession, table: tuple[Lake, str]
) -> None:
    lake, uri = table
    with pytest.raises(Exception, match="order 3 is poisoned"):
        poisoned(spark).write.format("rainforest_delta").mode("append").save(uri)
    _assert_untouched(lake, uri)


def test_incompatible_schema_fails_before_writing(
    spark: SparkSession, table: tuple[Lake, str]
) -> None:
    lake, uri = table
    retyped = typed_frame(spark).withColumn("order_id", F.col("order_id").cast("string"))
    with pytest.raises(LakeWriteError, match="order_id"):
        lake.write(retyped, uri, mode="append")
    _assert_untouched(lake, uri)
