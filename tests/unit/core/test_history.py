"""Dimension histories: versions from a change log, kept across a log replaced by a snapshot."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pyspark.sql import DataFrame, SparkSession

from etl.core.history import history, history_spec

pytestmark = pytest.mark.spark

SPEC = history_spec("thing_history", of="thing", key="id", tracked={"label": "name"})
LOG = (
    "id long, name string, colour string, created_ts timestamp, last_updated_ts timestamp, "
    "etl_change string, etl_batch_id long, etl_ingestion_date date"
)
HISTORY = (
    "id long, label string, version int, valid_from timestamp, valid_to timestamp, "
    "is_current boolean"
)
RUN_DATE = date(2024, 3, 20)


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


def upsert(key: int, name: str, stamp: datetime, batch: int, colour: str = "red") -> tuple:
    return (key, name, colour, at(1), stamp, "upsert", batch, date(2024, 3, batch))


def delete(key: int, batch: int) -> tuple:
    return (key, None, None, None, None, "delete", batch, date(2024, 3, batch))


def versions(
    spark: SparkSession, log: list[tuple], previous: list[tuple] | None = None
) -> list[tuple]:
    held = None if previous is None else spark.createDataFrame(previous, HISTORY)
    out: DataFrame = history(spark.createDataFrame(log, LOG), held, SPEC, gone_after=RUN_DATE)
    assert out.columns == ["id", "label", "version", "valid_from", "valid_to", "is_current"]
    return [
        (r.id, r.label, r.version, _utc(r.valid_from), _utc(r.valid_to), r.is_current)
        for r in out.orderBy("id", "version").collect()
    ]


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def test_each_tracked_change_starts_a_version_that_ends_the_one_before(
    spark: SparkSession,
) -> None:
    log = [
        upsert(1, "kite", at(2), 2),
        upsert(1, "kite xl", at(5, 9), 5),
        upsert(2, "yoyo", at(3), 3),
    ]

    assert versions(spark, log) == [
        (1, "kite", 1, at(1), at(5, 9), False),  # the first version since the row's creation
        (1, "kite xl", 2, at(5, 9), None, True),
        (2, "yoyo", 1, at(1), None, True),
    ]


def test_a_change_of_untracked_columns_only_makes_no_version(spark: SparkSession) -> None:
    log = [upsert(1, "kite", at(2), 2), upsert(1, "kite", at(4), 4, colour="blue")]

    assert versions(spark, log) == [(1, "kite", 1, at(1), None, True)]


def test_a_version_logged_twice_is_one_version(spark: SparkSession) -> None:
    log = [upsert(1, "kite", at(2), 2), upsert(1, "kite", at(2), 3)]

    assert versions(spark, log) == [(1, "kite", 1, at(1), None, True)]


def test_a_change_back_to_earlier_values_is_a_new_version(spark: SparkSession) -> None:
    log = [upsert(1, "kite", at(2), 2), upsert(1, "yoyo", at(3), 3), upsert(1, "kite", at(4), 4)]

    assert [(v[1], v[2], v[4]) for v in versions(spark, log)] == [
        ("kite", 1, at(3)),
        ("yoyo", 2, at(4)),
        ("kite", 3, None),
    ]


def test_a_delete_ends_the_last_version_when_its_run_day_ends(spark: SparkSession) -> None:
    log = [upsert(1, "kite", at(2), 2), upsert(1, "kite xl", at(3), 3), delete(1, 6)]

    assert versions(spark, log) == [
        (1, "kite", 1, at(1), at(3), False),
        (1, "kite xl", 2, at(3), at(7), False),
    ]


def test_a_log_replaced_by_a_snapshot_keeps_the_history_held_before(
    spark: SparkSession,
) -> None:
    previous = [
        (1, "kite", 1, at(1), at(3), False),
        (1, "kite xl", 2, at(3), None, True),
        (2, "yoyo", 1, at(1), None, True),  # gone from the snapshot: deleted since
        (3, "ball", 1, at(1), at(4), False),  # deleted long ago, ended then
    ]
    snapshot = [upsert(1, "kite xl", at(3), 9), upsert(4, "top", at(8), 9)]

    assert versions(spark, snapshot, previous) == [
        (1, "kite", 1, at(1), at(3), False),
        (1, "kite xl", 2, at(3), None, True),
        (2, "yoyo", 1, at(1), at(21), False),  # ends with the run's day, 2024-03-20
        (3, "ball", 1, at(1), at(4), False),
        (4, "top", 1, at(1), None, True),
    ]


def test_a_change_after_the_snapshot_continues_the_history(spark: SparkSession) -> None:
    previous = [(1, "kite", 1, at(1), None, True)]
    log = [upsert(1, "kite", at(2), 9), upsert(1, "kite xl", at(10), 10)]

    assert versions(spark, log, previous) == [
        (1, "kite", 1, at(1), at(10), False),
        (1, "kite xl", 2, at(10), None, True),
    ]


def test_the_spec_keys_versions_by_their_start_and_checks_their_order() -> None:
    assert SPEC.primary_keys == ("id", "valid_from")
    assert SPEC.upstream == ("thing",)
    assert SPEC.tracked == (("label", "name"),)
    assert [rule.name for rule in SPEC.rules] == ["versions_end_after_they_start"]
