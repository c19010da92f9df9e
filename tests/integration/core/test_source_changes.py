"""Source tables as change logs, against a real Postgres whose rows the tests change by hand."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
from pyspark.sql import SparkSession

from etl.core import source_table
from etl.core.changes import BATCH_ID, MARK_BATCH, MARK_HIGH_WATER, ChangeMark, from_micros
from etl.core.pipeline import RunSummary, TableOutcome, new_context, run_pipeline
from etl.core.registry import Registry
from etl.core.rollback import restore_table
from etl.core.settings import Settings
from etl.core.source_table import SourceTable, source_spec
from etl.core.table import RunContext
from etl.core.upstream import Upstream

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

DAY_1, DAY_2, DAY_3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


class Item(SourceTable):
    spec = source_spec("item", key="item_id")


class Tag(SourceTable):
    spec = source_spec("tag", key="tag_id", changed_column=None)


class Undated(SourceTable):
    spec = source_spec("undated", key="undated_id")


class Unreliable(SourceTable):
    spec = source_spec("unreliable", key="unreliable_id")


REGISTRY = Registry([Item, Tag, Undated, Unreliable])


class Shop:
    """The upstream schema `shop` of a database of its own, and runs of the pipeline over it."""

    def __init__(self, dsn: str, spark: SparkSession, warehouse: Path) -> None:
        self.dsn = dsn
        self.spark = spark
        self.settings = Settings(
            spark_master="local[2]", spark_shuffle_partitions=2, warehouse=str(warehouse)
        )
        self.execute(
            "CREATE SCHEMA shop;"
            "CREATE TABLE shop.item (item_id bigint PRIMARY KEY, name text, "
            "price numeric(10, 2), last_updated_ts timestamptz NOT NULL);"
            "CREATE TABLE shop.tag (tag_id bigint PRIMARY KEY, label text);"
            "CREATE TABLE shop.undated (undated_id bigint PRIMARY KEY, label text);"
            "CREATE TABLE shop.unreliable (unreliable_id bigint PRIMARY KEY, "
            "last_updated_ts timestamptz);"
        )

    def execute(self, statement: str, *params: object) -> None:
        with psycopg2.connect(self.dsn) as conn, conn.cursor() as cursor:
            cursor.execute(statement, params or None)

    def put_items(self, *rows: tuple[int, str, str, datetime]) -> None:
        for row in rows:
            self.execute(
                "INSERT INTO shop.item VALUES (%s, %s, %s, %s) ON CONFLICT (item_id) DO UPDATE "
                "SET name = EXCLUDED.name, price = EXCLUDED.price, "
                "last_updated_ts = EXCLUDED.last_updated_ts",
                *row,
            )

    def run(
        self, day: date, table: str = "item", *, full_refresh: bool = False, checked: bool = True
    ) -> TableOutcome:
        context = self.context(day, full_refresh=full_refresh)
        summary: RunSummary = run_pipeline(replace(context, check_quality=checked), [table])
        return summary.outcomes[-1]

    def context(self, day: date, *, full_refresh: bool = False) -> RunContext:
        return new_context(
            self.spark,
            self.settings,
            REGISTRY,
            upstream=Upstream(dsn=self.dsn, schema="shop"),
            logical_date=day,
            full_refresh=full_refresh,
        )

    def table(self, cls: type[SourceTable]) -> SourceTable:
        context = new_context(self.spark, self.settings, REGISTRY)
        return cls(context)

    def state(self, cls: type[SourceTable], *columns: str) -> list[tuple[object, ...]]:
        data = self.table(cls).read().curr_data
        return sorted(tuple(row) for row in data.select(*columns).collect())

    def changes(self, cls: type[SourceTable], *columns: str) -> list[tuple[object, ...]]:
        data = self.table(cls).read_changes().curr_data
        return sorted(tuple(row) for row in data.select(*columns).collect())


@pytest.fixture
def shop(empty_database: str, spark: SparkSession, tmp_path: Path) -> Iterator[Shop]:
    yield Shop(empty_database, spark, tmp_path / "lakehouse")


def test_first_run_takes_a_snapshot_and_marks_how_far_it_read(shop: Shop) -> None:
    shop.put_items((1, "mug", "5.00", at(DAY_1, 9)), (2, "cup", "3.50", at(DAY_1, 10)))

    outcome = shop.run(DAY_1)

    assert outcome.status == "ok", outcome.message
    assert outcome.rows == 2
    assert shop.state(Item, "item_id", "name") == [(1, "mug"), (2, "cup")]
    assert shop.changes(Item, "item_id", "etl_change", "etl_batch_id") == [
        (1, "upsert", 1),
        (2, "upsert", 1),
    ]
    table = shop.table(Item)
    marks = table.context.lake.marks(table.storage_path, (MARK_BATCH, MARK_HIGH_WATER))
    assert marks[MARK_BATCH] == 1
    assert from_micros(marks[MARK_HIGH_WATER]) == at(DAY_1, 10)


def test_a_day_logs_updates_inserts_and_deletes_up_to_its_end(shop: Shop) -> None:
    shop.put_items(
        (1, "mug", "5.00", at(DAY_1)), (2, "cup", "3.50", at(DAY_1)), (3, "jar", "7.00", at(DAY_1))
    )
    shop.run(DAY_1)
    shop.put_items((1, "mug", "5.50", at(DAY_2)), (4, "pot", "9.00", at(DAY_2)))
    shop.execute("DELETE FROM shop.item WHERE item_id = 2")
    shop.put_items((5, "lid", "1.00", at(DAY_3)))

    outcome = shop.run(DAY_2)

    assert outcome.status == "ok", outcome.message
    batch_2 = [c for c in shop.changes(Item, "etl_batch_id", "item_id", "etl_change") if c[0] == 2]
    assert batch_2 == [(2, 1, "upsert"), (2, 2, "delete"), (2, 4, "upsert")], "not item 5 yet"
    assert shop.state(Item, "item_id", "price") == [
        (1, pytest.approx(5.5)),
        (3, pytest.approx(7.0)),
        (4, pytest.approx(9.0)),
    ]
    table = shop.table(Item)
    # The state above kept the checked snapshot's rows and folded batch 2 alone.
    assert recorded(shop).snapshot_checked
    assert table.context.lake.rows_above(table.storage_path, BATCH_ID, 1) == 3
    shop.run(DAY_3)
    assert [row[0] for row in shop.state(Item, "item_id")] == [1, 3, 4, 5]


def recorded(shop: Shop) -> ChangeMark:
    table = shop.table(Item)
    mark = table.recorded_mark(table.context.lake, table.context.settings)
    assert mark is not None
    return mark


def live_keys(shop: Shop) -> int | None:
    return recorded(shop).live_keys


def test_a_day_without_deletes_compares_no_keys(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop.put_items((1, "mug", "5.00", at(DAY_1)), (2, "cup", "3.50", at(DAY_1)))
    shop.run(DAY_1)
    assert live_keys(shop) == 2, "a snapshot's rows are its live keys"
    shop.put_items((2, "cup", "4.00", at(DAY_2)), (3, "jar", "7.00", at(DAY_2)))
    # Changed after the day's end, by a key the log knows and by a new one.
    shop.put_items((1, "mug", "6.00", at(DAY_3)), (4, "pot", "9.00", at(DAY_3)))

    def compare_every_key(*args: object) -> None:
        raise AssertionError("the counts agree: no key needs comparing")

    monkeypatch.setattr(SourceTable, "_reconciled", compare_every_key)
    outcome = shop.run(DAY_2)

    assert outcome.status == "ok", outcome.message
    assert outcome.rows == 2
    assert live_keys(shop) == 3
    monkeypatch.undo()
    shop.execute("DELETE FROM shop.item WHERE item_id = 3")
    shop.run(DAY_3)
    assert [row[0] for row in shop.state(Item, "item_id")] == [1, 2, 4]
    assert live_keys(shop) == 3, "1 and 4 came, 3 went"


def test_a_log_without_its_live_keys_counts_them_once(shop: Shop) -> None:
    """A snapshot written unchecked (as by a release before the mark existed) records no
    count: the next batch counts the log's state, finds the delete and records the count."""
    shop.put_items((1, "mug", "5.00", at(DAY_1)), (2, "cup", "3.50", at(DAY_1)))
    shop.run(DAY_1, checked=False)
    assert live_keys(shop) is None
    shop.execute("DELETE FROM shop.item WHERE item_id = 1")
    shop.put_items((3, "jar", "7.00", at(DAY_2)))

    shop.run(DAY_2)

    assert [row[0] for row in shop.state(Item, "item_id")] == [2, 3]
    assert live_keys(shop) == 2
    assert not recorded(shop).snapshot_checked, "its state folds the whole log"


def test_rows_of_chosen_keys_are_their_current_state(shop: Shop) -> None:
    shop.put_items((1, "mug", "5.00", at(DAY_1)), (2, "cup", "3.50", at(DAY_1)))
    shop.run(DAY_1)
    shop.put_items((1, "mug", "5.50", at(DAY_2)), (3, "jar", "7.00", at(DAY_2)))
    shop.execute("DELETE FROM shop.item WHERE item_id = 2")
    shop.run(DAY_2)
    table = shop.table(Item)
    wanted = shop.spark.createDataFrame([(1,), (2,), (3,), (9,)], "item_id bigint")

    chosen = table.rows_where("item_id", wanted)

    whole = table.read().curr_data
    assert sorted(chosen.collect()) == sorted(whole.where("item_id IN (1, 2, 3, 9)").collect())
    assert sorted((row.item_id, float(row.price)) for row in chosen.collect()) == [
        (1, 5.5),
        (3, 7.0),
    ]
    by_name = table.rows_where("name", shop.spark.createDataFrame([("jar",)], "name string"))
    assert [row.item_id for row in by_name.collect()] == [3]


def test_the_logical_date_ends_at_its_last_microsecond(shop: Shop) -> None:
    shop.put_items((1, "mug", "5.00", at(DAY_1)))
    shop.run(DAY_1)
    last = datetime(2025, 3, 2, 23, 59, 59, 999999, tzinfo=UTC)
    shop.put_items((2, "cup", "1.00", last), (3, "jar", "1.00", last + timedelta(microseconds=1)))

    shop.run(DAY_2)

    assert [row[0] for row in shop.state(Item, "item_id")] == [1, 2]


def test_running_a_date_again_logs_nothing_twice(shop: Shop) -> None:
    shop.put_items((1, "mug", "5.00", at(DAY_1)))
    shop.run(DAY_1)
    shop.put_items((2, "cup", "3.50", at(DAY_2)))
    shop.run(DAY_2)
    logged = shop.changes(Item, "item_id", "etl_batch_id")

    again = shop.run(DAY_2)

    assert again.status == "ok", again.message
    assert again.rows == 0
    assert shop.changes(Item, "item_id", "etl_batch_id") == logged


def test_a_late_commit_inside_the_lookback_is_caught(shop: Shop) -> None:
    shop.put_items((1, "mug", "5.00", at(DAY_2, 10)), (2, "cup", "3.50", at(DAY_2, 12)))
    shop.run(DAY_2)
    # Committed after the run, stamped 30 minutes before the high-water mark.
    shop.put_items((3, "jar", "7.00", at(DAY_2, 12) - timedelta(minutes=30)))

    outcome = shop.run(DAY_3)

    assert outcome.rows == 1, "the late row, not the unchanged rows read again"
    assert [row[0] for row in shop.state(Item, "item_id")] == [1, 2, 3]


@pytest.mark.parametrize("listed", [source_table.MISSED_KEYS_LISTED, 1], ids=["by key", "whole"])
def test_rows_committed_after_the_lookback_passed_them_are_logged_when_counts_disagree(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, listed: int
) -> None:
    monkeypatch.setattr(source_table, "MISSED_KEYS_LISTED", listed)
    shop.put_items((1, "mug", "5.00", at(DAY_2, 10)), (2, "cup", "3.50", at(DAY_2, 12)))
    shop.run(DAY_2)
    # Committed after the run, stamped hours before the high-water mark (lookback: 1 h). One
    # such row with one delete would leave the counts equal and both unseen (README).
    shop.put_items((3, "jar", "7.00", at(DAY_2, 9)), (4, "pot", "9.00", at(DAY_1, 9)))
    shop.execute("DELETE FROM shop.item WHERE item_id = 1")

    outcome = shop.run(DAY_3)

    assert outcome.status == "ok", outcome.message
    (warning,) = outcome.warnings
    counted = "2 rows" if listed > 1 else "over 1 row"
    assert f"Logged {counted} of shop.item" in warning and "lookback=" in warning
    batch_2 = [c for c in shop.changes(Item, "etl_batch_id", "item_id", "etl_change") if c[0] == 2]
    assert batch_2 == [(2, 1, "delete"), (2, 3, "upsert"), (2, 4, "upsert")]
    assert shop.state(Item, "item_id", "name") == [(2, "cup"), (3, "jar"), (4, "pot")]
    assert live_keys(shop) == 3
    assert shop.run(DAY_3).up_to_date, "the counts agree again"


def test_a_key_deleted_in_the_log_and_back_upstream_behind_the_lookback_is_logged(
    shop: Shop,
) -> None:
    shop.put_items((1, "mug", "5.00", at(DAY_1)), (2, "cup", "3.50", at(DAY_1)))
    shop.run(DAY_1)
    shop.execute("DELETE FROM shop.item WHERE item_id = 1")
    shop.put_items((3, "jar", "7.00", at(DAY_2)))
    shop.run(DAY_2)
    assert [row[0] for row in shop.state(Item, "item_id")] == [2, 3]
    # Put back with its old change time, long behind the high-water mark.
    shop.put_items((1, "mug", "5.00", at(DAY_1)))

    outcome = shop.run(DAY_3)

    assert outcome.status == "ok", outcome.message
    assert shop.state(Item, "item_id", "name") == [(1, "mug"), (2, "cup"), (3, "jar")]
    assert live_keys(shop) == 3


def test_a_full_refresh_replaces_the_log_with_a_snapshot(shop: Shop) -> None:
    shop.put_items((1, "mug", "5.00", at(DAY_1)), (2, "cup", "3.50", at(DAY_1)))
    shop.run(DAY_1)
    shop.put_items((1, "mug", "6.00", at(DAY_2)))
    shop.run(DAY_2)

    outcome = shop.run(DAY_2, full_refresh=True)

    assert outcome.rows == 2
    assert shop.changes(Item, "item_id", "etl_batch_id", "etl_change") == [
        (1, 3, "upsert"),
        (2, 3, "upsert"),
    ]


def test_a_table_without_change_timestamps_is_compared_whole(shop: Shop) -> None:
    shop.execute("INSERT INTO shop.tag VALUES (1, 'red'), (2, 'blue'), (3, 'green')")
    shop.run(DAY_1, "tag")
    shop.execute("UPDATE shop.tag SET label = 'navy' WHERE tag_id = 2")
    shop.execute("DELETE FROM shop.tag WHERE tag_id = 3")

    outcome = shop.run(DAY_2, "tag")

    assert outcome.rows == 2
    assert [c for c in shop.changes(Tag, "etl_batch_id", "tag_id", "etl_change") if c[0] == 2] == [
        (2, 2, "upsert"),
        (2, 3, "delete"),
    ]
    assert shop.state(Tag, "tag_id", "label") == [(1, "red"), (2, "navy")]


def test_a_snapshot_is_compared_with_its_rows_as_they_are(shop: Shop) -> None:
    """A log that holds one checked snapshot has one row per key: the next batch compares
    with those rows directly, without ranking each key's versions."""
    shop.execute("INSERT INTO shop.tag VALUES (1, 'red'), (2, 'blue')")
    shop.run(DAY_1, "tag")
    tag = Tag(shop.context(DAY_2))
    tag.plan()

    known = tag.extract()["known"]

    assert "Window" not in known._jdf.queryExecution().executedPlan().toString()
    assert sorted((row.tag_id, row.label) for row in known.collect()) == [(1, "red"), (2, "blue")]


def test_a_table_without_last_updated_ts_says_how_to_extract_it_whole(shop: Shop) -> None:
    outcome = shop.run(DAY_1, "undated")

    assert outcome.status == "failed"
    assert "shop.undated has no column last_updated_ts" in outcome.message
    assert 'source_spec("undated", key="undated_id", changed_column=None)' in outcome.message


def test_null_change_timestamps_are_refused(shop: Shop) -> None:
    shop.execute("INSERT INTO shop.unreliable VALUES (1, now()), (2, NULL)")

    outcome = shop.run(DAY_1, "unreliable")

    assert outcome.status == "failed"
    assert "1 rows with last_updated_ts null" in outcome.message
    assert "changed_column=None" in outcome.message


def test_a_clock_moved_back_is_a_warning_with_both_times(shop: Shop) -> None:
    shop.put_items((1, "mug", "5.00", at(DAY_2)))
    shop.run(DAY_2)
    shop.execute("UPDATE shop.item SET last_updated_ts = %s", at(DAY_1))

    outcome = shop.run(DAY_3)

    assert outcome.status == "ok", outcome.message
    (warning,) = outcome.warnings
    assert "2025-03-02T12:00:00+00:00" in warning
    assert "2025-03-01T12:00:00+00:00" in warning
    assert "--full-refresh" in warning


def test_a_restored_log_takes_the_changes_since_its_version_again(shop: Shop) -> None:
    """Rolling a source table back to an earlier batch undoes what came after, and the next
    run logs the upstream changes since that batch's high-water mark again: nothing is lost
    and nothing counted twice."""
    shop.put_items((1, "mug", "5.00", at(DAY_1)), (2, "cup", "3.50", at(DAY_1)))
    shop.run(DAY_1)
    shop.put_items((1, "mug", "5.50", at(DAY_2)), (3, "jar", "7.00", at(DAY_2)))
    shop.execute("DELETE FROM shop.item WHERE item_id = 2")
    shop.run(DAY_2)

    restore_table(shop.settings, REGISTRY, "item", version=0)

    assert shop.state(Item, "item_id", "name") == [(1, "mug"), (2, "cup")]
    outcome = shop.run(DAY_2)
    assert outcome.status == "ok", outcome.message
    assert shop.state(Item, "item_id", "price") == [
        (1, pytest.approx(5.5)),
        (3, pytest.approx(7.0)),
    ]
    assert shop.changes(Item, "etl_batch_id", "item_id", "etl_change") == [
        (1, 1, "upsert"),
        (1, 2, "upsert"),
        (2, 1, "upsert"),
        (2, 2, "delete"),
        (2, 3, "upsert"),
    ], "batch 2 logged once, as if the rolled-back run had never been"
