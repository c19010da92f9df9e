"""The lake on a local warehouse: real Spark jobs, real Delta commits, read back by delta-rs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from py4j.clientserver import ClientServerConnection
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)

from etl.core.changes import BATCH_ID, CHANGE, DELETE, UPSERT, CheckedSnapshot, current_state
from etl.core.errors import ConfigError, TableNotFoundError
from etl.core.lake import Lake
from etl.core.settings import Settings
from tests.integration.core.lake.support import (
    FORMAT,
    ROWS,
    data_files,
    delta_rows,
    expected_rows,
    live_files,
    spark_rows,
    typed_frame,
)

pytestmark = pytest.mark.spark


@pytest.fixture
def lake(spark: SparkSession, local_settings: Settings) -> Lake:
    return Lake(spark, local_settings)


@pytest.fixture
def uri(local_settings: Settings) -> str:
    return local_settings.table_uri("silver", "orders")


def test_round_trip_keeps_rows_and_types(spark: SparkSession, lake: Lake, uri: str) -> None:
    result = lake.write(typed_frame(spark), uri, partition_by=["region"])

    assert (result.version, result.rows) == (0, len(ROWS))
    assert result.files == len(data_files(Path(uri.removeprefix("file://"))))
    df = lake.read(uri)
    assert [(field.name, field.dataType) for field in df.schema] == [
        ("order_id", IntegerType()),
        ("quantity", LongType()),
        ("customer_name", StringType()),
        ("score", DoubleType()),
        ("amount_usd", DecimalType(10, 2)),
        ("ordered_at", TimestampType()),
        ("order_date", DateType()),
        ("is_paid", BooleanType()),
        ("region", StringType()),
    ]
    assert spark_rows(df) == expected_rows()
    through_python = spark.read.format(FORMAT).load(uri)
    assert spark_rows(through_python) == expected_rows()


def test_framework_tables_are_delta_tables(spark: SparkSession, lake: Lake, uri: str) -> None:
    lake.write(typed_frame(spark), uri, partition_by=["region"])

    table = DeltaTable(uri)
    assert delta_rows(uri) == expected_rows()
    assert table.metadata().partition_columns == ["region"]
    stats = pa.table(table.get_add_actions(flatten=True))
    assert "min.order_id" in stats.column_names
    assert "min.region" not in stats.column_names  # partition columns carry no statistics
    assert sum(stats.column("num_records").to_pylist()) == len(ROWS)


def test_tables_written_by_delta_rs_are_read(spark: SparkSession, lake: Lake, uri: str) -> None:
    data = pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "region": ["a b:c", "x/y%z", None, "a b:c"],
            "at": pa.array(
                [dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)] * 3 + [None],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )
    write_deltalake(uri, data, partition_by=["region"])

    expected = sorted(data.to_pylist(), key=lambda row: row["id"])
    for df in (lake.read(uri), spark.read.format(FORMAT).load(uri)):
        rows = sorted((row.asDict() for row in df.collect()), key=lambda row: row["id"])
        assert [(r["id"], r["region"]) for r in rows] == [(r["id"], r["region"]) for r in expected]
        assert [r["at"] is None for r in rows] == [r["at"] is None for r in expected]
    assert lake.read(uri, partition_values={"region": "x/y%z"}).count() == 1
    assert lake.read(uri, partition_values={"region": None}).count() == 1


def test_overwrite_replaces_and_append_adds(spark: SparkSession, lake: Lake, uri: str) -> None:
    lake.write(typed_frame(spark, ROWS[:2]), uri)
    overwritten = lake.write(typed_frame(spark, ROWS[2:]), uri, mode="overwrite")
    assert spark_rows(lake.read(uri)) == expected_rows(ROWS[2:])

    appended = lake.write(typed_frame(spark, ROWS[:1]), uri, mode="append")
    assert (overwritten.version, appended.version) == (1, 2)
    assert spark_rows(lake.read(uri)) == expected_rows(ROWS[2:] + ROWS[:1])
    assert spark_rows(lake.read(uri, version=1)) == expected_rows(ROWS[2:])
    assert [entry["version"] for entry in lake.history(uri)] == [2, 1, 0]
    assert data_files(Path(uri.removeprefix("file://"))) >= live_files(uri)


def test_overwrite_partitions_replaces_only_partitions_present(
    spark: SparkSession, lake: Lake, uri: str
) -> None:
    lake.write(typed_frame(spark), uri, partition_by=["region"])
    replacement = [(9, 1, "new", 0.0, None, None, None, None, "eu")]

    result = lake.write(
        typed_frame(spark, replacement), uri, mode="overwrite_partitions", partition_by=["region"]
    )

    assert result.rows == 1
    untouched = [row for row in ROWS if row[-1] != "eu"]
    assert spark_rows(lake.read(uri)) == expected_rows(untouched + replacement)
    assert delta_rows(uri) == expected_rows(untouched + replacement)


def test_new_columns_merge_into_the_schema(spark: SparkSession, lake: Lake, uri: str) -> None:
    lake.write(typed_frame(spark, ROWS[:2]), uri, partition_by=["region"])
    wider = typed_frame(spark, ROWS[2:]).withColumn("discount_usd", F.lit(1.25))

    lake.write(wider, uri, mode="append")

    df = lake.read(uri)
    assert df.columns[-1] == "discount_usd"
    discounts = {row.order_id: row.discount_usd for row in df.collect()}
    assert discounts == {1: None, 2: None, 3: 1.25, 4: 1.25}
    assert "discount_usd" in DeltaTable(uri).schema().to_arrow().names

    lake.write(wider.withColumn("note", F.lit("x")), uri, mode="overwrite")
    assert lake.read(uri).columns[-2:] == ["discount_usd", "note"]


def test_partition_values_come_typed_from_metadata(
    spark: SparkSession, lake: Lake, uri: str
) -> None:
    lake.write(typed_frame(spark), uri, partition_by=["order_date", "is_paid"])

    values = lake.partition_values(uri)

    assert sorted(values, key=repr) == sorted(
        ({"order_date": row[6], "is_paid": row[7]} for row in ROWS), key=repr
    )


def test_partition_values_prune_the_files_read(spark: SparkSession, lake: Lake, uri: str) -> None:
    lake.write(typed_frame(spark), uri, partition_by=["order_date"])
    day = dt.date(2024, 1, 2)

    df = lake.read(uri, partition_values={"order_date": day})

    assert [row.order_id for row in df.collect()] == [1]
    assert len(df.inputFiles()) == 1
    assert len(lake.read(uri).inputFiles()) == len(ROWS)


def test_a_read_costs_a_few_py4j_calls_whatever_its_files_and_columns(
    spark: SparkSession, lake: Lake, uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A py4j call costs about half a millisecond of CPU, and a run reads tables hundreds of
    times: passing each path and column in a call of its own cost thousands of calls."""
    lake.write(typed_frame(spark), uri, partition_by=["order_id"])
    lake.read(uri)  # the first read in a process looks up the JVM classes it uses
    calls = []
    send = ClientServerConnection.send_command

    def counted(connection: ClientServerConnection, command: str) -> str:
        if not command.startswith("m"):  # releases of Python's garbage, whenever it is freed
            calls.append(command)
        return send(connection, command)

    monkeypatch.setattr(ClientServerConnection, "send_command", counted)
    df = lake.read(uri)
    monkeypatch.undo()

    assert len(df.inputFiles()) == len(ROWS)
    assert df.columns == typed_frame(spark).columns
    assert spark_rows(df) == expected_rows()
    assert len(calls) <= 14


def test_scans_of_one_python_read_with_different_filters_each_get_their_rows(
    spark: SparkSession, lake: Lake, uri: str
) -> None:
    """Spark 4.3 would plan one read's files once, for the last filters pushed to it, and read
    them for every scan of it: the reader takes no filters, so each scan gets its rows."""
    lake.write(typed_frame(spark), uri, partition_by=["region"])
    df = spark.read.format(FORMAT).load(uri)
    df.createOrReplaceTempView("orders_read_once")

    in_eu = F.col("region").eqNullSafe("eu")
    eu, others = df.where(in_eu), df.where(~in_eu)
    high, low = df.where(F.col("order_id") > 1), df.where(F.col("order_id") <= 1)

    assert eu.unionByName(others).count() == len(ROWS)
    assert high.unionByName(low).count() == len(ROWS)
    assert df.join(low.select("order_id"), "order_id", "left_anti").count() == high.count()
    self_join = spark.sql(
        "SELECT count(*) FROM orders_read_once a JOIN orders_read_once b "
        "ON a.order_id = b.order_id WHERE a.order_id > 1 AND b.order_id > 1"
    )
    assert self_join.collect()[0][0] == high.count()


def test_partition_values_choose_the_files_of_the_python_reader(
    spark: SparkSession, lake: Lake, uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On S3 the source is handed the chosen partition's files: nothing else is read."""
    lake.write(typed_frame(spark), uri, partition_by=["order_date"])
    monkeypatch.setattr(Lake, "_native_readable", lambda self, uri, snapshot: False)
    day = dt.date(2024, 1, 2)

    df = lake.read(uri, partition_values={"order_date": day}, columns=["order_id"])

    assert [tuple(row) for row in df.collect()] == [(1,)]
    plan = df._jdf.queryExecution().executedPlan().toString().splitlines()
    nodes = [line.strip(" +-:*()0123456789") for line in plan]
    assert not any(node.startswith("Filter") for node in nodes), "nothing else to filter out"


@pytest.mark.parametrize("native", [True, False], ids=["native", "python"])
def test_several_partitions_are_read_from_their_files_alone(
    spark: SparkSession, lake: Lake, uri: str, monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    lake.write(typed_frame(spark), uri, partition_by=["order_date"])
    if not native:
        monkeypatch.setattr(Lake, "_native_readable", lambda self, uri, snapshot: False)
    days = [{"order_date": row[6]} for row in ROWS[:2]]

    df = lake.read(uri, partitions=[*days, {"order_date": dt.date(2030, 1, 1)}])

    wanted = [row[0] for row in ROWS if {"order_date": row[6]} in days]
    assert sorted(row.order_id for row in df.collect()) == sorted(wanted)
    if native:
        assert len(df.inputFiles()) == 2
    plan = df._jdf.queryExecution().executedPlan().toString().splitlines()
    assert not any(line.strip(" +-:*()0123456789").startswith("Filter") for line in plan)
    assert lake.read(uri, partitions=[]).count() == 0
    with pytest.raises(ConfigError, match="not partition columns"):
        lake.read(uri, partitions=[{"region": "eu"}])
    with pytest.raises(ValueError, match="not both"):
        lake.read(uri, partition_values=days[0], partitions=days)


def test_a_change_logs_state_read_through_the_python_reader_keeps_its_snapshot(
    spark: SparkSession, lake: Lake, uri: str
) -> None:
    """As on S3: the snapshot's rows and the later batches are two scans of one read, with
    different filters."""
    log_schema = f"id int, name string, {CHANGE} string, {BATCH_ID} long"
    snapshot = [(n, f"v{n}", UPSERT, 1) for n in range(50)]
    lake.write(spark.createDataFrame(snapshot, log_schema), uri, mode="overwrite")
    later = [(1, "v1 again", UPSERT, 2), (2, None, DELETE, 2), (70, "new", UPSERT, 2)]
    lake.write(spark.createDataFrame(later, log_schema), uri, mode="append")

    log = spark.read.format(FORMAT).load(uri)

    checked = CheckedSnapshot(batch_id=1, rows_after=lake.rows_above(uri, BATCH_ID, 1))
    state = current_state(log, "id", snapshot=checked)

    assert checked.rows_after == 3
    assert sorted(map(tuple, state.collect())) == sorted(
        map(tuple, current_state(log, "id").collect())
    )
    assert state.count() == 50


def test_columns_are_projected(spark: SparkSession, lake: Lake, uri: str) -> None:
    lake.write(typed_frame(spark), uri, partition_by=["region"])

    assert lake.read(uri, columns=["region", "order_id"]).columns == ["region", "order_id"]
    through_python = spark.read.format(FORMAT).option("lake.columns", '["order_id"]').load(uri)
    assert through_python.columns == ["order_id"]
    assert sorted(row.order_id for row in through_python.collect()) == [1, 2, 3, 4]


def test_reading_a_missing_table_says_how_to_build_it(lake: Lake, uri: str) -> None:
    assert not lake.exists(uri)
    with pytest.raises(TableNotFoundError, match="rainforest run"):
        lake.read(uri)


def test_reading_a_missing_version_names_it(spark: SparkSession, lake: Lake, uri: str) -> None:
    lake.write(typed_frame(spark), uri)
    assert lake.exists(uri)
    with pytest.raises(TableNotFoundError, match="no version 5"):
        lake.read(uri, version=5)


def test_parquet_format_overwrites_after_writing(spark: SparkSession, lake: Lake, uri: str) -> None:
    first = lake.write(typed_frame(spark), uri, partition_by=["region"], table_format="parquet")
    second = lake.write(
        typed_frame(spark, ROWS[:1]), uri, partition_by=["region"], table_format="parquet"
    )

    assert first.version is second.version is None
    assert second.rows == 1
    folder = Path(uri.removeprefix("file://"))
    assert not (folder / "_delta_log").exists()
    assert len(data_files(folder)) == 1
    df = lake.read(uri, table_format="parquet")
    assert [row.order_id for row in df.collect()] == [1]
    assert lake.partition_values(uri, table_format="parquet") == [{"region": "eu"}]


def test_a_small_table_is_one_file_whatever_its_tasks(
    spark: SparkSession, lake: Lake, uri: str
) -> None:
    rows = spark.range(5_000).selectExpr("id AS order_id", "id % 7 AS status").repartition(8)

    assert lake.write(rows, uri, rows=5_000).files == 1
    assert lake.write(rows, uri).files == 1, "an overwrite is as big as the table it replaces"
    assert lake.write(rows, uri, mode="append", rows=5_000).files == 1
    assert len(live_files(uri)) == 2


def test_rows_not_gathered_stay_in_the_tasks_they_come_in(
    spark: SparkSession, lake: Lake, uri: str
) -> None:
    """A source batch comes in key ranges that all hold one ingestion date: gathering them
    by partition would move every row into one task."""
    day = F.lit(dt.date(2024, 1, 2)).alias("day")
    rows = spark.range(3_000, numPartitions=3).select(F.col("id").alias("order_id"), day)

    assert lake.write(rows, uri, partition_by=["day"], gather=False).files == 3
    assert lake.write(rows, uri, partition_by=["day"]).files == 1
    assert lake.read(uri).count() == 3_000


def test_files_stay_near_the_target_size(
    spark: SparkSession, lake: Lake, local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = spark.range(10_000).selectExpr("id AS order_id", "id % 2 AS day").repartition(3)
    # Two 8-byte columns: a new table's files aim at 2,500 rows.
    monkeypatch.setattr("etl.core.lake.lake.TARGET_FILE_BYTES", 16 * 2_500)

    whole = local_settings.table_uri("silver", "whole")
    by_day = local_settings.table_uri("silver", "by_day")
    assert lake.write(rows, whole, rows=10_000).files == 4
    assert lake.write(rows, by_day, partition_by=["day"]).files == 4

    for table in (whole, by_day):
        actions = pa.table(DeltaTable(table).get_add_actions(flatten=True))
        assert actions.column("num_records").to_pylist() == [2_500] * 4
