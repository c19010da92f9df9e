"""The lake on an S3 endpoint (moto_server): the Python writer and reader, and secrets kept out."""

from __future__ import annotations

import boto3
import pytest
from deltalake import DeltaTable
from pydantic import SecretStr
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from etl.core.errors import LakeWriteError
from etl.core.lake import Lake
from etl.core.lake.storage import Storage
from etl.core.settings import Settings
from tests.integration.core.lake.support import (
    FORMAT,
    ROWS,
    delta_rows,
    expected_rows,
    poisoned,
    spark_rows,
    typed_frame,
)

pytestmark = [pytest.mark.spark, pytest.mark.s3]


def _objects(settings: Settings, uri: str) -> set[str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        aws_access_key_id=settings.s3_access_key_id.get_secret_value(),  # type: ignore[union-attr]
        aws_secret_access_key=settings.s3_secret_access_key.get_secret_value(),  # type: ignore[union-attr]
        region_name=settings.s3_region,
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    return {
        item["Key"].removeprefix(prefix + "/")
        for page in pages
        for item in page.get("Contents", [])
    }


def _data_objects(settings: Settings, uri: str) -> set[str]:
    return {key for key in _objects(settings, uri) if not key.startswith("_delta_log/")}


def _live_objects(settings: Settings, uri: str) -> set[str]:
    table = DeltaTable(uri, storage_options=settings.storage_options())
    return {path.removeprefix(uri + "/") for path in table.file_uris()}


def test_delta_round_trip_on_s3(spark: SparkSession, s3_settings: Settings) -> None:
    lake = Lake(spark, s3_settings)
    uri = s3_settings.table_uri("silver", "orders")

    first = lake.write(typed_frame(spark), uri, partition_by=["region"])
    assert (first.version, first.rows) == (0, len(ROWS))
    assert spark_rows(lake.read(uri)) == expected_rows()
    assert delta_rows(uri, **s3_settings.storage_options()) == expected_rows()

    replacement = [(9, 1, "new", 0.0, None, None, None, None, "eu")]
    wider = typed_frame(spark, replacement).withColumn("discount_usd", F.lit(0.5))
    lake.write(wider, uri, mode="overwrite_partitions", partition_by=["region"])
    lake.write(typed_frame(spark, ROWS[1:2]), uri, mode="append")

    untouched = [row for row in ROWS if row[-1] != "eu"]
    df = lake.read(uri)
    assert "discount_usd" in df.columns
    assert spark_rows(df.drop("discount_usd")) == expected_rows(untouched + replacement + ROWS[1:2])
    assert lake.read(uri, partition_values={"region": "us"}).count() == 2
    assert sorted(lake.partition_values(uri), key=repr) == sorted(
        [{"region": "eu"}, {"region": "us"}, {"region": None}], key=repr
    )
    assert lake.read(uri, columns=["order_id"]).columns == ["order_id"]
    assert spark_rows(lake.read(uri, version=0)) == expected_rows()
    assert len(lake.history(uri)) == 4  # create, new column, partition overwrite, append
    assert _live_objects(s3_settings, uri) <= _data_objects(s3_settings, uri)


def test_failed_write_on_s3_leaves_no_objects(spark: SparkSession, s3_settings: Settings) -> None:
    lake = Lake(spark, s3_settings)
    uri = s3_settings.table_uri("silver", "orders")
    lake.write(typed_frame(spark, ROWS[:2]), uri, partition_by=["region"])
    before = _objects(s3_settings, uri)

    with pytest.raises(LakeWriteError, match="keeps its previous version"):
        lake.write(poisoned(spark), uri, mode="append")

    assert _objects(s3_settings, uri) == before
    assert [entry["version"] for entry in lake.history(uri)] == [0]
    assert spark_rows(lake.read(uri)) == expected_rows(ROWS[:2])


def test_credentials_stay_out_of_plans(
    spark: SparkSession, s3_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "s3cr3t-Kq8vZp2Lw9"  # moto accepts any credentials
    settings = s3_settings.model_copy(update={"s3_secret_access_key": SecretStr(secret)})
    lake = Lake(spark, settings)
    uri = settings.table_uri("silver", "orders")
    lake.write(typed_frame(spark), uri, partition_by=["region"])
    capsys.readouterr()

    df = lake.read(uri).where(F.col("region") == "eu")
    df.explain(mode="extended")
    spark.read.format(FORMAT).options(**Storage.from_settings(settings).to_options()).load(
        uri
    ).explain(mode="extended")

    shown = capsys.readouterr().out
    assert "BatchScan" in shown
    assert secret not in shown
    assert secret not in df._jdf.queryExecution().toString()
    assert secret not in repr(Storage.from_settings(settings))
