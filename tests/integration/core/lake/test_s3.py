"""The lake on a real S3 server (SeaweedFS): the Python writer and reader, secrets kept out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from deltalake import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from etl.core.errors import ConfigError, LakeWriteError
from etl.core.lake import Lake
from etl.core.lake.storage import Storage
from etl.core.lock import Holder, WarehouseBusyError, WarehouseLock, current_holder
from etl.core.settings import Settings
from etl.services.seaweedfs import SeaweedS3
from etl.services.state import free_port
from tests.fixtures.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, s3_client, start_server, stop_server
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


def test_a_write_from_a_new_thread_finds_the_lake_format(
    spark: SparkSession, s3_settings: Settings
) -> None:
    """The pipeline builds tables on a thread pool; a fresh thread has no active Spark session,
    through which Spark resolves the lake's Python data source on save."""
    uri = s3_settings.table_uri("silver", "orders")
    frame = typed_frame(spark)

    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(Lake(spark, s3_settings).write, frame, uri).result()

    assert result.rows == len(ROWS)
    assert delta_rows(uri, **s3_settings.storage_options()) == expected_rows()


def test_files_on_s3_are_compressed_with_zstd(spark: SparkSession, s3_settings: Settings) -> None:
    uri = s3_settings.table_uri("silver", "orders")
    Lake(spark, s3_settings).write(typed_frame(spark), uri)
    filesystem, root = Storage.from_settings(s3_settings).filesystem(uri)

    for key in _live_objects(s3_settings, uri):
        with filesystem.open_input_file(f"{root}/{key}") as source:
            metadata = pq.ParquetFile(source).metadata
        assert {
            metadata.row_group(group).column(column).compression
            for group in range(metadata.num_row_groups)
            for column in range(metadata.num_columns)
        } == {"ZSTD"}


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
    settings = s3_settings
    assert settings.s3_secret_access_key is not None
    secret = settings.s3_secret_access_key.get_secret_value()
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


def test_a_wrong_secret_is_refused(s3_endpoint: str, s3_bucket: str) -> None:
    with pytest.raises(ClientError) as refused:
        s3_client(s3_endpoint, secret="not-the-secret").list_objects_v2(Bucket=s3_bucket)

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("mode", ["overwrite", "append", "read"])
def test_refused_credentials_name_the_endpoint_and_the_variables(
    spark: SparkSession, s3_settings: Settings, mode: str
) -> None:
    uri = s3_settings.table_uri("silver", "orders")
    Lake(spark, s3_settings).write(typed_frame(spark), uri)
    wrong = Settings(**{**s3_settings.model_dump(), "s3_secret_access_key": "not-the-secret"})
    lake = Lake(spark, wrong)

    with pytest.raises(ConfigError) as refused:
        if mode == "read":
            lake.read(uri).collect()
        else:
            lake.write(typed_frame(spark), uri, mode=mode)  # type: ignore[arg-type]

    message = str(refused.value)
    assert str(s3_settings.s3_endpoint) in message
    assert "RAINFOREST_S3_SECRET_ACCESS_KEY" in message
    assert "not-the-secret" not in message


def test_a_table_survives_a_restart_of_the_server(
    spark: SparkSession, s3_settings: Settings, tmp_path: Path
) -> None:
    server = SeaweedS3(
        data_dir=tmp_path / "s3",
        port=free_port(),
        bucket="restarted",
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
    )
    moved = {"s3_endpoint": server.endpoint, "warehouse": "s3://restarted/lake"}
    settings = Settings(**{**s3_settings.model_dump(), **moved})
    uri = settings.table_uri("silver", "orders")
    process = start_server(server)
    try:
        Lake(spark, settings).write(typed_frame(spark), uri, partition_by=["region"])
    finally:
        stop_server(process)

    process = start_server(server)
    try:
        assert spark_rows(Lake(spark, settings).read(uri)) == expected_rows(ROWS)
    finally:
        stop_server(process)


def test_of_commands_starting_at_once_on_s3_exactly_one_holds_the_warehouse(
    s3_settings: Settings,
) -> None:
    def contend(run_id: str) -> WarehouseLock | None:
        lock = WarehouseLock(s3_settings, Holder.this_process(run_id=run_id, purpose="run"))
        try:
            lock.acquire(wait=False)
        except WarehouseBusyError:
            return None
        return lock

    for round_ in range(3):
        with ThreadPoolExecutor(max_workers=4) as pool:
            won = [lock for lock in pool.map(contend, [f"r{round_}c{n}" for n in range(4)]) if lock]
        assert len(won) == 1
        assert current_holder(s3_settings) == won[0].holder
        won[0].release()
        assert current_holder(s3_settings) is None


def test_files_on_s3_stay_near_the_target_size(
    spark: SparkSession, s3_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(spark, s3_settings)
    rows = spark.range(10_000).selectExpr("id AS order_id", "id % 2 AS day").repartition(3)
    small = s3_settings.table_uri("silver", "small")
    assert lake.write(rows, small, rows=10_000).files == 1

    # Two 8-byte columns: a new table's files aim at 2,500 rows.
    monkeypatch.setattr("etl.core.lake.lake.TARGET_FILE_BYTES", 16 * 2_500)
    by_day = s3_settings.table_uri("silver", "by_day")
    assert lake.write(rows, by_day, partition_by=["day"]).files == 4
    actions = DeltaTable(by_day, storage_options=s3_settings.storage_options()).get_add_actions(
        flatten=True
    )
    assert pa.table(actions).column("num_records").to_pylist() == [2_500] * 4
