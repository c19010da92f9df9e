"""Copy generated tables into Postgres: one transaction, one COPY per table.

COPY from an in-memory CSV is what makes scale 10 (about 1.4 million rows) load in seconds;
row inserts would take minutes. The whole load is one transaction, so a failure leaves the
database as it was, and a reset together with its reload is atomic too.

The schema's comment records how its data was made (`Generation`), so that `advance` can go
on simulating the same shop, deterministically, from where the data ends.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg2 import sql

from datagen.errors import DatagenError

if TYPE_CHECKING:
    from psycopg2.extensions import connection, cursor

SCHEMA = "rainforest"

LoadMode = Literal["fail", "reset", "if_empty"]


@dataclass(frozen=True, kw_only=True)
class Generation:
    """How the schema's data was made, kept as JSON in the schema's comment:
    `{"scale": 1.0, "seed": 42, "simulated_through": "2025-01-30"}`.

    `simulated_through` is the last day the data covers: the day before `generate`'s end date
    after a load, then each day `advance` simulated.
    """

    scale: float
    seed: int
    simulated_through: date

    def write(self, cur: cursor) -> None:
        record = {**asdict(self), "simulated_through": self.simulated_through.isoformat()}
        cur.execute(
            sql.SQL("COMMENT ON SCHEMA {} IS %s").format(sql.Identifier(SCHEMA)),
            (json.dumps(record),),
        )

    @classmethod
    def read(cls, cur: cursor) -> Generation:
        cur.execute("SELECT obj_description(to_regnamespace(%s), 'pg_namespace')", (SCHEMA,))
        try:
            record: dict[str, Any] = json.loads(cur.fetchone()[0])
            return cls(
                scale=float(record["scale"]),
                seed=int(record["seed"]),
                simulated_through=date.fromisoformat(record["simulated_through"]),
            )
        except (TypeError, ValueError, KeyError):
            raise DatagenError(
                f"Schema {SCHEMA} does not record how its data was generated (it was loaded "
                "by an older version, or not at all): reload it with `rainforest datagen "
                "--reset`."
            ) from None


def load(
    conn: connection,
    tables: dict[str, pa.Table],
    *,
    scale: float,
    seed: int,
    end_date: date,
    mode: LoadMode = "fail",
) -> bool:
    """Load `tables` (from `generate`) into schema `rainforest` over `conn`, in one transaction;
    True when rows were loaded.

    The schema is created from `schema.sql` when missing. When it already holds orders,
    `mode` decides: "fail" raises, "reset" drops and recreates the schema first, "if_empty"
    leaves it alone and returns False. `scale`, `seed` and `end_date` are the arguments
    `tables` was generated with; the schema's comment keeps them for `advance`. The caller
    opens and closes the connection.
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
            copy_rows(cur, name, table)
            move_key_sequence(cur, name, table.column_names[0])
        _add_foreign_keys(cur, foreign_keys)
        last_day = end_date - timedelta(days=1)
        Generation(scale=scale, seed=seed, simulated_through=last_day).write(cur)
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


def copy_rows(cur: cursor, name: str, table: pa.Table, *, schema: str = SCHEMA) -> None:
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
        sql.Identifier(schema, name),
        sql.SQL(", ").join(sql.Identifier(column) for column in table.column_names),
    )
    cur.copy_expert(statement, buffer)


def move_key_sequence(cur: cursor, name: str, key: str) -> None:
    """COPY bypasses the identity sequence: move it past the loaded keys for later inserts."""
    cur.execute(
        sql.SQL(
            "SELECT setval(pg_get_serial_sequence(%s, %s), coalesce(max({key}), 0) + 1, false) "
            "FROM {table}"
        ).format(key=sql.Identifier(key), table=sql.Identifier(SCHEMA, name)),
        (f"{SCHEMA}.{name}", key),
    )
