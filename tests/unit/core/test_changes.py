"""Change logs folded into current state, batches stamped, marks kept to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import SparkSession

from etl.core.changes import (
    BATCH_ID,
    CHANGE,
    MARK_BATCH,
    MARK_FULL_BATCH,
    MARK_HIGH_WATER,
    MARK_LIVE_KEYS,
    MARK_LOOKBACK_WINDOW,
    ChangeMark,
    as_batch,
    current_state,
    from_micros,
    is_checked_snapshot,
    to_micros,
)

LOG_SCHEMA = f"id int, name string, {CHANGE} string, {BATCH_ID} long"


def test_the_latest_batch_wins_and_a_delete_removes_the_key(spark: SparkSession) -> None:
    log = spark.createDataFrame(
        [
            (1, "a", "upsert", 1),
            (1, "a2", "upsert", 3),
            (2, "b", "upsert", 1),
            (2, None, "delete", 2),
            (3, "c", "upsert", 1),
            (3, None, "delete", 2),
            (3, "c again", "upsert", 4),
        ],
        LOG_SCHEMA,
    )

    state = current_state(log, "id")

    assert state.columns == ["id", "name", BATCH_ID]
    assert sorted(tuple(r) for r in state.collect()) == [(1, "a2", 3), (3, "c again", 4)]


def test_within_a_batch_a_delete_outranks_an_upsert(spark: SparkSession) -> None:
    log = spark.createDataFrame([(1, "a", "upsert", 2), (1, None, "delete", 2)], LOG_SCHEMA)

    assert current_state(log, "id").count() == 0


def test_a_batch_holds_upserts_whole_and_deletes_as_keys(spark: SparkSession) -> None:
    upserts = spark.createDataFrame([(1, "a")], "id int, name string")
    deleted = spark.createDataFrame([(2,)], "id int")

    batch = as_batch(upserts, deleted, batch_id=7, lineage={"etl_run_id": "r1"})

    assert dict(batch.dtypes)[BATCH_ID] == "bigint"
    assert sorted(tuple(r) for r in batch.collect()) == [
        (1, "a", "r1", "upsert", 7),
        (2, None, "r1", "delete", 7),
    ]


def test_marks_keep_the_high_water_mark_to_the_microsecond() -> None:
    moment = datetime(2025, 3, 2, 23, 59, 59, 999999, tzinfo=UTC)
    mark = ChangeMark(batch_id=5, high_water_mark=moment, full_batch_id=1)

    assert from_micros(to_micros(moment)) == moment
    assert mark.marks() == {
        MARK_BATCH: 5,
        MARK_HIGH_WATER: to_micros(moment),
        MARK_FULL_BATCH: 1,
        MARK_LIVE_KEYS: -1,
        MARK_LOOKBACK_WINDOW: -1,
    }
    assert (
        ChangeMark(batch_id=5, high_water_mark=moment, full_batch_id=1, live_keys=0).marks()[
            MARK_LIVE_KEYS
        ]
        == 0
    ), "no key alive is a count, not unknown"
    assert mark.notes()[MARK_HIGH_WATER] == "2025-03-02T23:59:59.999999+00:00"


def test_a_checked_snapshot_is_its_own_state_without_a_window(spark: SparkSession) -> None:
    """A log that one full batch replaced, its key checked unique, needs no sort by key."""
    log = spark.createDataFrame([(1, "a", "upsert", 4), (2, "b", "upsert", 4)], LOG_SCHEMA)

    state = current_state(log, "id", snapshot=True)

    assert sorted(map(tuple, state.collect())) == sorted(
        map(tuple, current_state(log, "id").collect())
    )
    assert "Window" not in state._jdf.queryExecution().executedPlan().toString()


def test_only_a_single_checked_snapshot_skips_the_window() -> None:
    snapshot = {MARK_BATCH: 4, MARK_FULL_BATCH: 4, MARK_LIVE_KEYS: 2}

    assert is_checked_snapshot(snapshot)
    # Batches appended since the snapshot may repeat keys and delete them.
    assert not is_checked_snapshot({**snapshot, MARK_BATCH: 5})
    # A snapshot written without checks may hold a key twice.
    assert not is_checked_snapshot({**snapshot, MARK_LIVE_KEYS: -1})
    assert not is_checked_snapshot({})
