"""Names for the lake's tables and the SQL views over them, so that SQL can query them by name.

Every process that takes SQL from people (`rainforest sql`, the Thrift server of
`rainforest serve`) names the tables itself when it starts, rather than reading them from a
persistent metastore, for two reasons checked on Spark 4.3:

- A catalog table over a Python data source forgets its options: `CREATE TABLE t USING
  rainforest_delta OPTIONS (path '...')` succeeds, but reading `t` gives the source no options
  at all, so it cannot know which table to read (in-memory and Hive catalogs alike). Nothing
  persistent can point at a lake table without JVM code.
- An embedded Derby metastore admits one process at a time: `rainforest sql` would fail while
  `rainforest serve` runs.

So every built table of the registry becomes a temporary view over `Lake.read` (Spark's own
Parquet reader on a local warehouse), and every `.sql` file of the views folder a temporary
view over those. Nothing is stored, and any number of processes can query at once.

Temporary views have one-part names, so tables go by their name alone (`wide_orders`, not
`gold.wide_orders`); the registry keeps names unique across layers. A table's view reads the
Delta version that was current when it was registered; `refresh` moves the views of tables
that have a newer version since. The SQL views follow by themselves, because a temporary view
defined in SQL resolves the views it reads at every query.

Example:
    catalog = Catalog(spark, settings, Registry.discover(), views_dir=Path("etl/interface"))
    catalog.refresh()
    with catalog.explained_errors():
        rows = spark.sql("SELECT * FROM daily_order_report").collect()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pyspark.errors import PySparkException

from etl.core.errors import ConfigError, RainforestError, TableNotFoundError
from etl.core.lake import Lake
from etl.core.names import SNAKE_CASE

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.sql import SparkSession

    from etl.core.dataset import TableSpec
    from etl.core.registry import Registry
    from etl.core.settings import Settings

VIEW_LAYER = "interface"
_NOT_FOUND = "TABLE_OR_VIEW_NOT_FOUND"
# SQLSTATE classes of errors in the query itself rather than in the system: 42 is syntax or
# access rule (unknown names, wrong types), 22 is data exception (division by zero, bad cast).
_QUERY_SQLSTATE_CLASSES = ("42", "22")


class QueryError(RainforestError):
    """Spark rejected a query: bad syntax, an unknown column, a value it cannot compute."""


@dataclass(frozen=True, kw_only=True)
class CatalogEntry:
    """A name that SQL can query, and what it stands for."""

    name: str
    layer: str
    kind: Literal["table", "view"]
    version: int | None = None
    """The Delta version the name reads; None for views and Parquet tables."""


class Catalog:
    """The session's names for lake tables and SQL views; `refresh` registers and updates them.

    `views_dir` holds one `<view name>.sql` file per view, each a single `SELECT` that names
    tables without their layer.
    """

    def __init__(
        self,
        spark: SparkSession,
        settings: Settings,
        registry: Registry,
        *,
        views_dir: Path | None = None,
    ) -> None:
        self.spark = spark
        self._settings = settings
        self._registry = registry
        self._views_dir = views_dir
        self._lake = Lake(spark, settings)
        self._entries: dict[str, CatalogEntry] = {}
        self._missing: dict[str, str] = {}

    @property
    def entries(self) -> list[CatalogEntry]:
        return sorted(self._entries.values(), key=lambda e: (e.kind, e.layer, e.name))

    @property
    def missing(self) -> dict[str, str]:
        """Known names that SQL cannot query yet, with the reason and what to do."""
        return dict(self._missing)

    def refresh(self) -> list[str]:
        """Register what is new or changed since the last call; the first call registers all.

        Returns the names (re)registered or dropped: a table written since, a table built
        since, a view whose tables now exist, a table that disappeared.
        """
        changed = [name for table in self._registry if (name := self._sync_table(table.spec))]
        return changed + self._define_views()

    @contextmanager
    def explained_errors(self) -> Iterator[None]:
        """Turn Spark's errors about a query into a `RainforestError` whose message says what to
        do, so the CLI prints it without a JVM stack trace; other errors pass unchanged."""
        try:
            yield
        except PySparkException as error:
            explained = self.explain(error)
            if explained is None:
                raise
            raise explained from None

    def explain(self, error: PySparkException) -> RainforestError | None:
        """The user's view of a Spark error about a query; None for errors of the system."""
        if error.getCondition() == _NOT_FOUND:
            return TableNotFoundError(self._not_found_message(_relation_name(error)))
        if (error.getSqlState() or "")[:2] in _QUERY_SQLSTATE_CLASSES:
            return QueryError(_summary(error))
        return None

    def _sync_table(self, spec: TableSpec) -> str | None:
        name = spec.name
        uri = self._registry.get(name).uri_in(self._settings)
        try:
            version = self._latest_version(uri, spec)
        except TableNotFoundError:
            self._missing[name] = (
                f"{spec.qualified_name} is not built yet in {self._settings.warehouse_uri}: "
                f"build it with `rainforest run {name}`."
            )
            if self._entries.pop(name, None) is None:
                return None
            self.spark.catalog.dropTempView(name)
            return name
        registered = self._entries.get(name)
        if registered is not None and version is not None and registered.version == version:
            return None
        data = self._lake.read(uri, version=version, table_format=spec.data_format)
        data.createOrReplaceTempView(name)
        self._entries[name] = CatalogEntry(
            name=name, layer=spec.placed_layer, kind="table", version=version
        )
        self._missing.pop(name, None)
        return name

    def _latest_version(self, uri: str, spec: TableSpec) -> int | None:
        """The table's newest Delta version (None for a Parquet table, which has none);
        `TableNotFoundError` if it was never written."""
        if spec.data_format == "parquet":
            if not self._lake.exists(uri, table_format="parquet"):
                raise TableNotFoundError(uri)
            return None
        newest = self._lake.history(uri)[0]["version"]
        assert isinstance(newest, int)
        return newest

    def _define_views(self) -> list[str]:
        if self._views_dir is None:
            return []
        defined = []
        for path in sorted(self._views_dir.glob("*.sql")):
            name = path.stem
            if name in self._entries and self._entries[name].kind == "view":
                continue
            if not SNAKE_CASE.match(name) or name in self._registry:
                raise ConfigError(
                    f"{path}: a view's file name must be snake_case and differ from every "
                    "table name, since it becomes the view's name; rename the file."
                )
            query = path.read_text(encoding="utf-8").strip()
            try:
                # The name is checked above and the text is the project's own file.
                self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW `{name}` AS\n{query}")
            except PySparkException as error:
                self._missing[name] = self._undefinable_view(name, path, error)
                continue
            self._entries[name] = CatalogEntry(name=name, layer=VIEW_LAYER, kind="view")
            self._missing.pop(name, None)
            defined.append(name)
        return defined

    def _undefinable_view(self, name: str, path: Path, error: PySparkException) -> str:
        if error.getCondition() == _NOT_FOUND:
            table = _relation_name(error)
            reason = self._missing.get(table, f"no table is named {table}.")
            return f"the view {name} reads {table}, and {reason}"
        return f"the view {name} ({path}) is invalid: {_summary(error)}"

    def _not_found_message(self, relation: str) -> str:
        name = relation.rsplit(".", 1)[-1]
        if name in self._missing:
            return f"{name} cannot be queried yet: {self._missing[name]}"
        if name != relation and name in self._entries:
            return (
                f"No table or view named {relation}. Tables and views are named without their "
                f"layer: query `{name}`."
            )
        return (
            f"No table or view named {relation}. Build it with `rainforest run`; list tables "
            "with `rainforest tables`, and what SQL can query with `SHOW VIEWS`."
        )


def _relation_name(error: PySparkException) -> str:
    return (error.getMessageParameters() or {}).get("relationName", "").replace("`", "")


def _summary(error: PySparkException) -> str:
    """The message without the plan Spark appends; a syntax error keeps the query excerpt
    that points at the mistake."""
    text = str(error).strip()
    if error.getCondition() == "PARSE_SYNTAX_ERROR":
        return text
    return text.splitlines()[0] if text else type(error).__name__
