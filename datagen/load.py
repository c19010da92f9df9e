"""Copy generated tables into Postgres: one transaction, one COPY per table.

COPY from an in-memory CSV is what makes scale 10 (about 1.4 million rows) load in seconds;
row inserts would take minutes. The whole load is one transaction, so a failure leaves the
database as it was, and a reset together with its reload is atomic too.
"""

from __future__ import annotations

import io
from importlib.resources import files
from typing import TYPE_CHECKING, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg2 import sql

from datagen.errors import DatagenError

if TYPE_CHECKING:
    from psycopg2.extensions import connection, cursor

SCHEMA = "rainforest"

LoadMode = Literal["fail", "reset", "if_empty"]


def load(conn: connection, tables: dict[str, pa.Table], *, mode: LoadMode = "fail") -> bool:
    """Load `tables` (from `generate`) into schema `rainforest` over `conn`, in one transaction;
    True when rows were loaded.

    The schema is created from `schema.sql` when missing. When it already holds orders,
    `mode` decides: "fail" raises, "reset" drops and recreates the schema first, "if_empty"
    leaves it alone and returns False. The caller opens and closes the connection.
    """
    with conn, conn.cursor() as cur:
        # Zone-less timestamps (formatting zones is slow) read back as UTC; an empty search
        # path makes Postgres spell out the schema in the foreign keys it hands back.
        cur.execute("SET LOCAL timezone = 'UTC'; SET LOCAL search_path = pg_catalog")
        if mode == "reset":
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
        if _schema_exists(cur):
            if _has_orders(cur):
                if mode == "if_empty":
                    return False
                raise DatagenError(
                    f"Schema {SCHEMA} already holds data: pass --reset to replace it, "
                    "or --if-empty to keep it."
                )
        else:
            cur.execute(schema_sql())
        foreign_keys = _drop_foreign_keys(cur)
        for name, table in tables.items():
            _copy(cur, name, table)
            _move_key_sequence(cur, name, table.column_names[0])
        _add_foreign_keys(cur, foreign_keys)
    return True


def has_data(conn: connection) -> bool:
    """Whether schema `rainforest` holds orders, i.e. whether `--if-empty` would skip."""
    with conn, conn.cursor() as cur:
        return _schema_exists(cur) and _has_orders(cur)


def schema_sql() -> str:
    return files("datagen").joinpath("schema.sql").read_text(encoding="utf-8")


def _schema_exists(cur: cursor) -> bool:
    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,))
    return cur.fetchone() is not None


def _has_orders(cur: cursor) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.orders",))
    if not cur.fetchone()[0]:
        return False
    cur.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(SCHEMA, "orders"))
    )
    return bool(cur.fetchone()[0])


def _drop_foreign_keys(cur: cursor) -> list[tuple[str, str, str]]:
    """Drop the schema's foreign keys, returning (table, name, definition) to add them back.

    Checking a key per copied row takes longer than the copy itself; adding the constraint
    afterwards checks all rows in one join (PostgreSQL manual, "Populating a Database"). It is
    one transaction, so no other session ever sees the tables without their keys.
    """
    cur.execute(
        "SELECT c.relname, con.conname, pg_get_constraintdef(con.oid, true) "
        "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
        "WHERE con.contype = 'f' AND con.connamespace = %s::regnamespace ORDER BY con.oid",
        (SCHEMA,),
    )
    foreign_keys: list[tuple[str, str, str]] = cur.fetchall()
    for table, name, _ in foreign_keys:
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(SCHEMA, table), sql.Identifier(name)
            )
        )
    return foreign_keys


def _add_foreign_keys(cur: cursor, foreign_keys: list[tuple[str, str, str]]) -> None:
    for table, name, definition in foreign_keys:
        # `definition` is DDL that Postgres wrote itself (pg_get_constraintdef), not user input.
        cur.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                sql.Identifier(SCHEMA, table), sql.Identifier(name)
            )
            + sql.SQL(definition)
        )


def _copy(cur: cursor, name: str, table: pa.Table) -> None:
    zoneless = pa.schema(
        field.with_type(pa.timestamp(field.type.unit))
        if pa.types.is_timestamp(field.type)
        else field
        for field in table.schema
    )
    buffer = io.BytesIO()
    pa_csv.write_csv(table.cast(zoneless), buffer, pa_csv.WriteOptions(include_header=False))
    buffer.seek(0)
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(SCHEMA, name),
        sql.SQL(", ").join(sql.Identifier(column) for column in table.column_names),
    )
    cur.copy_expert(statement, buffer)


def _move_key_sequence(cur: cursor, name: str, key: str) -> None:
    """COPY bypasses the identity sequence: move it past the loaded keys for later inserts."""
    cur.execute(
        sql.SQL(
            "SELECT setval(pg_get_serial_sequence(%s, %s), coalesce(max({key}), 0) + 1, false) "
            "FROM {table}"
        ).format(key=sql.Identifier(key), table=sql.Identifier(SCHEMA, name)),
        (f"{SCHEMA}.{name}", key),
    )
