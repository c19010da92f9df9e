"""`advance` in a real Postgres: every write stamped within its day, late rows, edits and deletes,
the promises of a load still kept, and the same start giving the same days."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from psycopg2 import sql
from typer.testing import CliRunner

from datagen import TABLES, DatagenError, DayChanges, Generation, advance, generate
from datagen.day import KEYS
from etl.cli import app
from etl.core.upstream import connect
from tests.fixtures.postgres import (
    TEST_END_DATE,
    TEST_SCALE,
    TEST_SEED,
    load_into,
    scratch_database,
)
from tests.integration.datagen.promises import (
    ORDERS_OFF_THEIR_ITEMS,
    PURCHASE_EVENTS,
    fetch,
    generation,
)

pytestmark = pytest.mark.postgres

DAYS = 3
FIRST_DAY_START = datetime.combine(TEST_END_DATE, time(), tzinfo=UTC)
LAST_DAY_END = FIRST_DAY_START + timedelta(days=DAYS)


@dataclass(frozen=True)
class Advanced:
    dsn: str
    keys_before: dict[str, set[int]]
    keys_after: dict[str, set[int]]
    days: list[DayChanges]

    def new(self, name: str) -> set[int]:
        return self.keys_after[name] - self.keys_before[name]

    def changed(self, name: str) -> list[tuple[int, datetime, datetime]]:
        """(key, created_ts, last_updated_ts) of the rows of `name` the advanced days wrote."""
        statement = sql.SQL(
            "SELECT {}, created_ts, last_updated_ts FROM {} WHERE last_updated_ts >= %s"
        ).format(sql.Identifier(KEYS[name]), sql.Identifier("rainforest", name))
        return fetch(self.dsn, statement, (FIRST_DAY_START,))


def load_and_advance(dsn: str, *, days: int, dirty: float | None = None) -> list[DayChanges]:
    """The test data, advanced by `days` days."""
    load_into(dsn, generate(scale=TEST_SCALE, seed=TEST_SEED, end_date=TEST_END_DATE))
    with connect(dsn) as conn:
        return advance(conn, days=days, dirty=dirty)


def keys(dsn: str) -> dict[str, set[int]]:
    return {
        name: {
            key
            for (key,) in fetch(
                dsn,
                sql.SQL("SELECT {} FROM {}").format(
                    sql.Identifier(key), sql.Identifier("rainforest", name)
                ),
            )
        }
        for name, key in KEYS.items()
    }


def dump(dsn: str) -> dict[str, list[tuple]]:
    """Every row of every table, in key order."""
    return {
        name: fetch(
            dsn, sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier("rainforest", name))
        )
        for name in TABLES
    }


def midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time(), tzinfo=UTC)


@pytest.fixture(scope="module")
def advanced(postgres_dsn: str) -> Iterator[Advanced]:
    """The test data advanced by three days, in a database of its own that tests only read."""
    with scratch_database(postgres_dsn) as dsn:
        load_into(dsn, generate(scale=TEST_SCALE, seed=TEST_SEED, end_date=TEST_END_DATE))
        before = keys(dsn)
        with connect(dsn) as conn:
            days = advance(conn, days=DAYS)
        yield Advanced(dsn=dsn, keys_before=before, keys_after=keys(dsn), days=days)


def test_the_clock_moves_a_day_at_a_time(advanced: Advanced) -> None:
    simulated = [TEST_END_DATE + timedelta(days=n) for n in range(DAYS)]
    assert [day.day for day in advanced.days] == simulated
    assert generation(advanced.dsn) == Generation(
        scale=TEST_SCALE, seed=TEST_SEED, simulated_through=simulated[-1]
    )


@pytest.mark.parametrize("name", KEYS)
def test_every_write_is_stamped_within_the_advanced_days(advanced: Advanced, name: str) -> None:
    changed = advanced.changed(name)
    assert advanced.new(name), f"no new {name} rows"
    assert advanced.new(name) <= {key for key, _, _ in changed}
    assert all(created <= updated < LAST_DAY_END for _, created, updated in changed)
    last = advanced.days[-1]
    written_last = [key for key, _, updated in changed if midnight(updated).date() == last.day]
    assert len(written_last) == last.inserted[name] + last.updated.get(name, 0)


@pytest.mark.parametrize("name", ["orderitem", "clickstream", "ratings"])
def test_late_rows_were_created_one_to_three_days_before_they_arrived(
    advanced: Advanced, name: str
) -> None:
    new = advanced.new(name)
    written = [(c, u) for key, c, u in advanced.changed(name) if key in new]
    late = [(created, updated) for created, updated in written if created < midnight(updated)]
    assert late
    for created, updated in late:
        day = midnight(updated)
        assert day - timedelta(days=3) <= created < day - timedelta(days=1)


def test_a_late_item_corrects_its_orders_total_when_it_arrives(advanced: Advanced) -> None:
    [(late_items, orders_behind)] = fetch(
        advanced.dsn,
        """
        SELECT count(*), count(*) FILTER (WHERE o.last_updated_ts < i.last_updated_ts)
        FROM rainforest.orderitem i JOIN rainforest.orders o USING (order_id)
        WHERE i.created_ts < date_trunc('day', i.last_updated_ts AT TIME ZONE 'UTC')
            AT TIME ZONE 'UTC'
        """,
    )
    assert late_items > 0
    assert orders_behind == 0
    assert fetch(advanced.dsn, ORDERS_OFF_THEIR_ITEMS) == [(0,)]


@pytest.mark.parametrize(
    "name", ["appuser", "product", "productcategory", "ratings", "orders", "orderitem"]
)
def test_existing_rows_were_edited(advanced: Advanced, name: str) -> None:
    edited = [
        (created, updated)
        for key, created, updated in advanced.changed(name)
        if key in advanced.keys_before[name]
    ]
    assert edited
    assert all(created < FIRST_DAY_START <= updated for created, updated in edited)
    assert len(edited) <= sum(day.updated.get(name, 0) for day in advanced.days)


def test_edits_keep_the_rows_well_formed(advanced: Advanced) -> None:
    emails = [email for (email,) in fetch(advanced.dsn, "SELECT email FROM rainforest.appuser")]
    assert all(re.fullmatch(r"[a-z]+[0-9]+@[a-z0-9.-]+\.[a-z]+", email) for email in emails)
    assert fetch(
        advanced.dsn,
        """
        SELECT count(*) FILTER (WHERE rating NOT BETWEEN 1 AND 5),
            (SELECT count(*) FROM rainforest.productcategory
             GROUP BY product_id, category_id ORDER BY 1 DESC LIMIT 1)
        FROM rainforest.ratings
        """,
    ) == [(0, 1)]


@pytest.mark.parametrize("name", ["ratings", "sellerproduct"])
def test_deleted_rows_are_gone(advanced: Advanced, name: str) -> None:
    deleted = {key for day in advanced.days for key in day.deleted[name]}
    inserted = sum(day.inserted[name] for day in advanced.days)
    assert deleted
    assert deleted <= advanced.keys_before[name]
    assert not deleted & advanced.keys_after[name]
    assert len(advanced.keys_after[name]) == len(advanced.keys_before[name]) + inserted - len(
        deleted
    )


def test_every_product_keeps_a_seller(advanced: Advanced) -> None:
    assert fetch(
        advanced.dsn,
        """
        SELECT count(*) FROM rainforest.product p
        WHERE NOT EXISTS (SELECT FROM rainforest.sellerproduct s WHERE s.product_id = p.product_id)
        """,
    ) == [(0,)]


def test_each_new_order_was_placed_by_a_session_that_checked_out_at_its_time(
    advanced: Advanced,
) -> None:
    orders = len(advanced.keys_after["orders"])
    assert fetch(advanced.dsn, PURCHASE_EVENTS) == [(orders, orders, True)]
    assert fetch(
        advanced.dsn,
        """
        SELECT count(*) FROM rainforest.orders o
        WHERE NOT EXISTS (
            SELECT FROM rainforest.clickstream p
            JOIN rainforest.clickstream c USING (session_id)
            WHERE p.order_id = o.order_id AND p.event_type = 'purchase'
                AND c.event_type = 'checkout' AND c.event_ts = o.order_ts
                AND c.user_id = p.user_id
        )
        """,
    ) == [(0,)]


def test_the_same_start_gives_the_same_days(advanced: Advanced, empty_database: str) -> None:
    load_and_advance(empty_database, days=DAYS)
    assert dump(empty_database) == dump(advanced.dsn)


def test_a_schema_that_does_not_record_its_generation_cannot_advance(
    empty_database: str,
) -> None:
    with connect(empty_database) as conn, pytest.raises(DatagenError, match="--reset"):
        advance(conn, days=1)
    load_into(empty_database, generate(scale=0.01, seed=1, end_date=TEST_END_DATE), scale=0.01)
    with connect(empty_database) as conn, conn.cursor() as cur:
        cur.execute("COMMENT ON SCHEMA rainforest IS NULL")
    with connect(empty_database) as conn, pytest.raises(DatagenError, match="--reset"):
        advance(conn, days=1)


def test_defects_of_a_day_are_in_the_rows_it_wrote(empty_database: str) -> None:
    [day] = load_and_advance(empty_database, days=1, dirty=0.05)

    assert day.defects is not None
    assert all(count >= 1 for count in day.defects.counts().values())
    for kind, ids in day.defects.ids.items():
        home = day.defects.tables[kind]
        statement = sql.SQL("SELECT count(*) FROM {} WHERE {} = ANY(%s)").format(
            sql.Identifier("rainforest", home), sql.Identifier(KEYS[home])
        )
        assert fetch(empty_database, statement, (list(ids),)) == [(len(set(ids)),)], kind


def test_the_command_prints_each_day_and_its_defects(
    empty_database: str, clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_into(empty_database, generate(scale=TEST_SCALE, seed=TEST_SEED, end_date=TEST_END_DATE))
    monkeypatch.setenv("RAINFOREST_PG_DSN", empty_database)

    result = CliRunner().invoke(app, ["datagen", "--advance", "2", "--dirty", "0.05"])

    assert result.exit_code == 0, result.output
    assert "2025-01-31" in result.output
    assert "2025-02-01" in result.output
    assert "Defects injected" in result.output
    assert generation(empty_database).simulated_through == TEST_END_DATE + timedelta(days=1)
