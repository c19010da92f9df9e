"""Generated data in a real Postgres: counts, keys and totals as the database sees them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg2
import pytest
from psycopg2 import errors, sql
from psycopg2.extensions import connection

from datagen import TABLES, DatagenError, Generation, generate, has_data, load
from tests.fixtures.postgres import TEST_END_DATE, TEST_SCALE, TEST_SEED, LoadedDatabase
from tests.integration.datagen.promises import (
    ORDERS_OFF_THEIR_ITEMS,
    PURCHASE_EVENTS,
    fetch,
    generation,
)

pytestmark = pytest.mark.postgres


def test_loaded_counts_equal_generated(rainforest_db: LoadedDatabase) -> None:
    for name in TABLES:
        statement = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("rainforest", name))
        assert fetch(rainforest_db.dsn, statement) == [(rainforest_db.counts[name],)], name


def test_timestamps_survive_the_copy(rainforest_db: LoadedDatabase) -> None:
    tables = generate(scale=TEST_SCALE, seed=TEST_SEED, end_date=TEST_END_DATE)
    first = tables["clickstream"].slice(0, 1).to_pylist()[0]
    assert fetch(
        rainforest_db.dsn,
        "SELECT event_ts, created_ts FROM rainforest.clickstream WHERE clickstream_id = 1",
    ) == [(first["event_ts"], first["created_ts"])]


def test_every_foreign_key_is_in_place(rainforest_db: LoadedDatabase) -> None:
    assert fetch(
        rainforest_db.dsn,
        "SELECT count(*) FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = 'rainforest'::regnamespace AND convalidated",
    ) == [(17,)]


def test_the_database_rejects_a_dangling_reference(rainforest_db: LoadedDatabase) -> None:
    with pytest.raises(errors.ForeignKeyViolation):
        fetch(
            rainforest_db.dsn,
            "INSERT INTO rainforest.orderitem (order_id, product_id, seller_id, quantity) "
            "VALUES (-1, 1, 1, 1) RETURNING orderitem_id",
        )


def test_defective_values_are_accepted_for_the_pipeline_to_catch(
    rainforest_db: LoadedDatabase,
) -> None:
    [(product_id,)] = fetch(
        rainforest_db.dsn,
        "INSERT INTO rainforest.product (name, price, brand_id, manufacturer_id) "
        "VALUES ('broken', -5.00, 1, 1) RETURNING product_id",
    )
    assert product_id == rainforest_db.counts["product"] + 1, "new keys continue after the load"


def test_order_totals_equal_item_sums_in_sql(rainforest_db: LoadedDatabase) -> None:
    assert fetch(rainforest_db.dsn, ORDERS_OFF_THEIR_ITEMS) == [(0,)]


def test_purchase_events_carry_their_orders(rainforest_db: LoadedDatabase) -> None:
    orders = rainforest_db.counts["orders"]
    assert fetch(rainforest_db.dsn, PURCHASE_EVENTS) == [(orders, orders, True)]


def test_the_schema_records_how_its_data_was_made(rainforest_db: LoadedDatabase) -> None:
    assert generation(rainforest_db.dsn) == Generation(
        scale=TEST_SCALE, seed=TEST_SEED, simulated_through=TEST_END_DATE - timedelta(days=1)
    )


@pytest.fixture
def empty_connection(empty_database: str) -> Iterator[connection]:
    """An open connection to the empty database; datagen scopes its own transactions on it."""
    conn = psycopg2.connect(empty_database)
    try:
        yield conn
    finally:
        conn.close()


def test_load_modes_decide_what_happens_to_existing_data(
    empty_database: str, empty_connection: connection
) -> None:
    tables = generate(scale=0.01, seed=1, end_date=TEST_END_DATE)
    made = {"scale": 0.01, "seed": 1, "end_date": TEST_END_DATE}
    assert not has_data(empty_connection)
    assert load(empty_connection, tables, **made) is True
    assert has_data(empty_connection)
    with pytest.raises(DatagenError, match="--reset"):
        load(empty_connection, tables, **made)
    assert load(empty_connection, tables, **made, mode="if_empty") is False
    assert load(empty_connection, tables, **made, mode="reset") is True
    assert fetch(empty_database, "SELECT count(*) FROM rainforest.orders") == [(100,)]


def test_a_failed_load_leaves_nothing_behind(
    empty_database: str, empty_connection: connection
) -> None:
    tables = generate(scale=0.01, seed=1, end_date=TEST_END_DATE)
    orders = tables["orders"]
    tables["orders"] = orders.slice(0, orders.num_rows - 1)  # its items now dangle
    with pytest.raises(errors.ForeignKeyViolation):
        load(empty_connection, tables, scale=0.01, seed=1, end_date=TEST_END_DATE)
    assert fetch(empty_database, "SELECT to_regnamespace('rainforest')") == [(None,)]
