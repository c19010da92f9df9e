"""The upstream database that source tables copy from, and the two ways the framework reads it.

The framework does not find or start a database: the composition root (the CLI, a test, a
benchmark) resolves one and hands it to the run as an `Upstream`. Spark reads its tables with
the JDBC reader, split into key ranges; psycopg2 answers the small questions (key bounds)
that size the split.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection, parse_dsn
from pyspark.sql import Column
from pyspark.sql import functions as F

from etl.core.errors import ConfigError, ServiceUnavailableError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ROWS_PER_PARTITION = 200_000
MAX_PARTITIONS = 16
FETCH_SIZE = 10_000
CONNECT_TIMEOUT_S = 10
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_ADVICE = "check that the server runs and that the DSN points at it"


@dataclass(frozen=True, kw_only=True)
class Upstream:
    """A Postgres database and the schema whose tables source tables copy.

    `advice` finishes the message when the database does not answer: whoever resolved the
    DSN knows how the user starts the server or fixes the setting.
    """

    dsn: str = field(repr=False)
    schema: str
    advice: str = DEFAULT_ADVICE

    def connect(self) -> AbstractContextManager[connection]:
        return connect(self.dsn, advice=self.advice)

    def estimated_rows(self) -> dict[str, int]:
        """Rows of each table of the schema, as the database's statistics estimate them (no
        table is scanned): the planner's figure, or the live rows counted since the last
        ANALYZE when that is higher (a table loaded a moment ago has no planner figure)."""
        with self.connect() as conn, conn.cursor() as cursor:
            cursor.execute(
                """
                SELECT c.relname, greatest(c.reltuples, s.n_live_tup, 0)::bigint
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
                WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
                """,
                (self.schema,),
            )
            return {name: int(rows) for name, rows in cursor.fetchall()}


@contextmanager
def connect(dsn: str, *, advice: str = DEFAULT_ADVICE) -> Iterator[connection]:
    """A connection whose block is one transaction: committed on success, else rolled back.

    Committed by hand rather than with `with conn:`, so that code given the connection may
    scope its own transaction with `with conn:` (psycopg2 refuses to enter one twice).

    A server that does not answer is a `ServiceUnavailableError` ending in `advice`.
    """
    try:
        conn = psycopg2.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg2.OperationalError as error:
        where = parse_dsn(dsn)
        raise ServiceUnavailableError(
            f"Cannot reach Postgres at {where.get('host')}:{where.get('port')} "
            f"({str(error).strip().splitlines()[0]}): {advice}."
        ) from None
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


@dataclass(frozen=True, kw_only=True)
class ChangeWindow:
    """The rows whose change timestamp `column` lies in (`after`, `until`]; open where None."""

    column: str
    after: datetime | None = None
    until: datetime | None = None

    def condition(self) -> tuple[sql.Composable, list[datetime]]:
        """The window as a SQL condition with its parameters, for psycopg2."""
        parts: list[sql.Composable] = [sql.SQL("TRUE")]
        values: list[datetime] = []
        column = sql.Identifier(self.column)
        if self.after is not None:
            parts.append(sql.SQL("{} > %s").format(column))
            values.append(self.after)
        if self.until is not None:
            parts.append(sql.SQL("{} <= %s").format(column))
            values.append(self.until)
        return sql.SQL(" AND ").join(parts), values

    def column_filter(self) -> Column:
        """The same window as a Spark filter, which the JDBC reader pushes into its queries."""
        condition = F.lit(True)
        if self.after is not None:
            condition &= F.col(self.column) > F.lit(self.after)
        if self.until is not None:
            condition &= F.col(self.column) <= F.lit(self.until)
        return condition


@dataclass(frozen=True, kw_only=True)
class ChangeProbe:
    """What one snapshot of a table's change timestamp tells before anything is extracted."""

    has_column: bool
    nulls: int = 0
    newest: datetime | None = None
    """The latest change of all."""
    newest_until: datetime | None = None
    """The latest change at or before the window's end."""
    high_water_mark: datetime = EPOCH
    """Where the log's high-water mark stands after a batch taken now: the latest change of
    all for a snapshot, else the latest up to the window's end, never behind the last mark."""
    changed_since_mark: int = 0
    """Rows changed after the last high-water mark and up to the window's end (every row up
    to the window's end when there is no mark): what an incremental batch reads anew."""
    changed_after: int = 0
    """Rows changed after the window's end (they belong to a later batch)."""
    lookback_window: int = 0
    """A fingerprint of the rows stamped within the lookback before `high_water_mark` (their
    count and timestamps): a row committed late with an earlier stamp changes it."""
    rows: int = 0
    """Rows upstream (one per key), counted in the same snapshot as `keys_after`."""
    keys_after: tuple[object, ...] | None = None
    """Keys of the rows changed after the window's end; None when not listed (more than
    `KEYS_AFTER_MAX`, or no key asked for)."""


KEYS_AFTER_MAX = 10_000
"""Keys changed after the window's end that a probe lists: past it, deletes are found by
comparing every key (see `SourceTable`)."""


def probe_changes(
    upstream: Upstream,
    *,
    table: str,
    column: str,
    until: datetime,
    key: str | None = None,
    mark: datetime | None = None,
    lookback: timedelta = timedelta(0),
) -> ChangeProbe:
    """Whether `table` has the change timestamp `column`, how many rows lack one, how many
    changed since the last high-water `mark` (None: there is no log yet) and after `until`,
    a fingerprint of the `lookback` before the next mark, its rows, and the `key`s of rows
    changed after `until`: scans and lookups in one snapshot, no rows moved."""
    schema = upstream.schema
    stamp, source = sql.Identifier(column), sql.Identifier(schema, table)
    with upstream.connect() as conn, conn.cursor() as cursor:
        # One snapshot for every query: the counts and the keys listed must agree.
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        cursor.execute(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s AND column_name = %s",
            (schema, table, column),
        )
        if cursor.fetchone() is None:
            return ChangeProbe(has_column=False)
        cursor.execute(
            sql.SQL(
                "SELECT count(*) FILTER (WHERE {c} IS NULL), max({c}), "
                "max({c}) FILTER (WHERE {c} <= %(until)s), count(*), "
                "count(*) FILTER (WHERE {c} > %(until)s), "
                "count(*) FILTER (WHERE {c} <= %(until)s "
                "AND (%(mark)s::timestamptz IS NULL OR {c} > %(mark)s)) FROM {t}"
            ).format(c=stamp, t=source),
            {"until": until, "mark": mark},
        )
        nulls, newest, newest_until, rows, changed_after, changed_since_mark = cursor.fetchone()
        high_water_mark = newest if mark is None else newest_until
        high_water_mark = max(
            (moment for moment in (high_water_mark, mark) if moment is not None), default=EPOCH
        )
        cursor.execute(
            sql.SQL(
                "SELECT count(*), coalesce(sum((extract(epoch FROM {c}) * 1000000)::bigint), 0) "
                "FROM {t} WHERE {c} > %s AND {c} <= %s"
            ).format(c=stamp, t=source),
            (high_water_mark - lookback, high_water_mark),
        )
        counted, stamps = cursor.fetchone()
        lookback_window = _fingerprint(int(counted), int(stamps))
        keys_after: tuple[object, ...] | None = None
        if key is not None and changed_after <= KEYS_AFTER_MAX:
            cursor.execute(
                sql.SQL("SELECT {k} FROM {t} WHERE {c} > %s").format(
                    k=sql.Identifier(key), c=stamp, t=source
                ),
                (until,),
            )
            keys_after = tuple(found for (found,) in cursor.fetchall())
    return ChangeProbe(
        has_column=True,
        nulls=nulls,
        newest=newest,
        newest_until=newest_until,
        high_water_mark=high_water_mark,
        changed_since_mark=changed_since_mark,
        changed_after=changed_after,
        lookback_window=lookback_window,
        rows=rows,
        keys_after=keys_after,
    )


def _fingerprint(*numbers: int) -> int:
    """63 bits that change when any of `numbers` does (a Delta mark holds a long)."""
    digest = hashlib.sha256(repr(numbers).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class UpstreamRows:
    """Rows read from an upstream table, and how many Postgres counted before reading them."""

    data: DataFrame
    count: int


def read_postgres_table(
    spark: SparkSession,
    upstream: Upstream,
    *,
    table: str,
    key: str,
    jdbc_jar: Path,
    window: ChangeWindow | None = None,
    columns: Sequence[str] | None = None,
    keys: Sequence[object] | None = None,
) -> UpstreamRows:
    """Read one upstream table with Spark's JDBC reader, split into ranges of its integer key.

    The number of ranges follows the size of what is read, so a small table or a day's
    changes are one task and a large table spreads over the cluster. `window` restricts the
    rows to those changed in it, `keys` to those keys, and `columns` the columns; all are
    pushed into the queries Postgres runs, so only what is asked for crosses the wire.
    """
    if not jdbc_jar.is_file():
        raise ConfigError(
            f"Spark needs the PostgreSQL JDBC driver, not found at {jdbc_jar}. "
            "Install it with `apt-get install libpostgresql-jdbc-java` (or `make install` as "
            "root), or set RAINFOREST_JDBC_JAR to a postgresql.jar."
        )
    schema = upstream.schema
    condition, values = window.condition() if window else (sql.SQL("TRUE"), [])
    if keys is not None:
        condition = sql.SQL("{} AND {} = ANY(%s)").format(condition, sql.Identifier(key))
        values = [*values, list(keys)]
    with upstream.connect() as conn, conn.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT min({key}), max({key}), count(*) FROM {table} WHERE {where}").format(
                key=sql.Identifier(key), table=sql.Identifier(schema, table), where=condition
            ),
            values,
        )
        low, high, rows = cursor.fetchone()
    url, properties = jdbc_connection(upstream.dsn)
    reader = (
        spark.read.format("jdbc")
        .option("url", url)
        .option("dbtable", f'"{schema}"."{table}"')
        .option("driver", "org.postgresql.Driver")
        .option("fetchsize", FETCH_SIZE)
        # Binary results from the first execution: each range query runs once, and the
        # driver's default (binary only after 5 runs) makes it parse every value from text.
        .option("prepareThreshold", "-1")
        .options(**properties)
    )
    partitions = min(MAX_PARTITIONS, max(1, math.ceil(rows / ROWS_PER_PARTITION)))
    if partitions > 1:
        reader = (
            reader.option("partitionColumn", key)
            .option("lowerBound", low)
            .option("upperBound", high + 1)
            .option("numPartitions", partitions)
        )
    data = reader.load()
    if window is not None:
        data = data.where(window.column_filter())
    if keys is not None:
        data = data.where(F.col(key).isin(list(keys)))
    return UpstreamRows(data.select(*columns) if columns is not None else data, rows)


def jdbc_connection(dsn: str) -> tuple[str, dict[str, str]]:
    """The JDBC URL and the connection properties for a libpq DSN.

    The password travels as a property, not in the URL, so it stays out of query plans.
    """
    parts = parse_dsn(dsn)
    host = parts.get("host", "127.0.0.1")
    if host.startswith("/"):
        raise ConfigError(
            f"The upstream DSN points at a Unix socket ({host}); Spark's JDBC driver needs "
            "TCP: use host=127.0.0.1 and a port."
        )
    url = f"jdbc:postgresql://{host}:{parts.get('port', '5432')}/{parts.get('dbname', 'postgres')}"
    properties = {name: parts[name] for name in ("user", "password") if name in parts}
    return url, properties
