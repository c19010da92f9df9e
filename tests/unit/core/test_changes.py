"""Change logs folded into current state, batches stamped, marks kept to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession

from etl.core.changes import (
    BATCH_ID,
    CHANGE,
    FOLD_WHOLE_LOG_BEYOND,
    MARK_BATCH,
    MARK_FULL_BATCH,
    MARK_HIGH_WATER,
    MARK_LIVE_KEYS,
    MARK_LOOKBACK_WINDOW,
    MARK_SNAPSHOT_CHECKED,
    ChangeMark,
    CheckedSnapshot,
    as_batch,
    checked_snapshot_batch,
    current_state,
    from_micros,
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
        MARK_SNAPSHOT_CHECKED: 0,
    }
    assert (
        ChangeMark(batch_id=5, high_water_mark=moment, full_batch_id=1, live_keys=0).marks()[
            MARK_LIVE_KEYS
        ]
        == 0
    ), "no key alive is a count, not unknown"
    assert mark.notes()[MARK_HIGH_WATER] == "2025-03-02T23:59:59.999999+00:00"


def _plan(frame: DataFrame) -> str:
    return frame._jdf.queryExecution().executedPlan().toString()


def test_a_checked_snapshot_is_its_own_state_without_a_window(spark: SparkSession) -> None:
    """A log that one full batch replaced, its key checked unique, needs no sort by key."""
    log = spark.createDataFrame([(1, "a", "upsert", 4), (2, "b", "upsert", 4)], LOG_SCHEMA)

    state = current_state(log, "id", snapshot=CheckedSnapshot(batch_id=4, rows_after=0))

    assert sorted(map(tuple, state.collect())) == sorted(
        map(tuple, current_state(log, "id").collect())
    )
    assert "Window" not in _plan(state)


SNAPSHOT_THEN_BATCHES = [
    (1, "a", "upsert", 4),
    (2, "b", "upsert", 4),
    (3, "c", "upsert", 4),
    (4, "d", "upsert", 4),
    (1, "a2", "upsert", 5),
    (2, None, "delete", 5),
    (3, "c2", "upsert", 5),
    (3, None, "delete", 6),
    (2, "b again", "upsert", 6),
    (5, "e", "upsert", 6),
    (5, None, "delete", 6),
    (6, "f", "upsert", 6),
]


def test_after_a_checked_snapshot_only_later_batches_are_folded(spark: SparkSession) -> None:
    """The snapshot's rows stand as they are unless a later batch names their key; those
    batches alone are sorted by key, and their keys are broadcast rather than shuffled."""
    log = spark.createDataFrame(SNAPSHOT_THEN_BATCHES, LOG_SCHEMA)

    state = current_state(log, "id", snapshot=CheckedSnapshot(batch_id=4, rows_after=8))

    assert sorted(map(tuple, state.collect())) == [
        (1, "a2", 5),
        (2, "b again", 6),
        (4, "d", 4),
        (6, "f", 6),
    ]
    assert sorted(map(tuple, state.collect())) == sorted(
        map(tuple, current_state(log, "id").collect())
    )
    assert "BroadcastHashJoin" in _plan(state)


def test_many_or_uncounted_later_rows_fold_the_whole_log(spark: SparkSession) -> None:
    log = spark.createDataFrame(SNAPSHOT_THEN_BATCHES, LOG_SCHEMA)

    for rows_after in (None, FOLD_WHOLE_LOG_BEYOND + 1):
        snapshot = CheckedSnapshot(batch_id=4, rows_after=rows_after)
        state = current_state(log, "id", snapshot=snapshot)

        assert "BroadcastHashJoin" not in _plan(state)
        assert sorted(map(tuple, state.collect())) == sorted(
            map(tuple, current_state(log, "id").collect())
        )


def test_the_snapshot_counts_as_checked_when_its_mark_says_so() -> None:
    checked = {MARK_BATCH: 6, MARK_FULL_BATCH: 4, MARK_LIVE_KEYS: 3, MARK_SNAPSHOT_CHECKED: 1}

    assert checked_snapshot_batch(checked) == 4
    # A snapshot written without checks may hold a key twice.
    assert checked_snapshot_batch({**checked, MARK_SNAPSHOT_CHECKED: 0}) is None
    assert checked_snapshot_batch({}) is None


def test_a_log_from_before_the_mark_trusts_only_a_lone_counted_snapshot() -> None:
    """Before `MARK_SNAPSHOT_CHECKED`, a counted snapshot was checked; once batches follow,
    the marks no longer tell whether it was."""
    alone = {MARK_BATCH: 4, MARK_FULL_BATCH: 4, MARK_LIVE_KEYS: 2}

    assert checked_snapshot_batch(alone) == 4
    assert checked_snapshot_batch({**alone, MARK_BATCH: 5}) is None
    assert checked_snapshot_batch({**alone, MARK_LIVE_KEYS: -1}) is None
