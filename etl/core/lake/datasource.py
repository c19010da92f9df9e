"""The `rainforest_delta` Spark Python data source: Delta or Parquet tables without JVM jars.

Spark imports this module in every session's data-source lookup (through the
`pyspark_rainforest` package), so it imports only pyspark and the standard library at the
top; pyarrow, deltalake and the scan and write machinery load when a table is used.

Options (all optional apart from the path; `Lake` sets them):

    spark.read.format("rainforest_delta").load(uri)
    spark.read.format("rainforest_delta").option("lake.version", "3").load(uri)
    df.write.format("rainforest_delta").option("lake.mode", "overwrite_partitions")
        .option("lake.partition.by", '["order_date"]').mode("overwrite").save(uri)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, cast

from pyspark.sql.datasource import DataSource, DataSourceReader, DataSourceWriter
from pyspark.sql.types import StructType

if TYPE_CHECKING:
    from etl.core.lake.commit import WriteMode
    from etl.core.lake.snapshot import Snapshot, TableFormat
    from etl.core.lake.storage import Storage

FORMAT_NAME = "rainforest_delta"

OPTION_FORMAT = "lake.format"
OPTION_VERSION = "lake.version"
OPTION_COLUMNS = "lake.columns"
OPTION_MODE = "lake.mode"
OPTION_PARTITION_BY = "lake.partition.by"
OPTION_MIN_PARTITIONS = "lake.min.partitions"
OPTION_RECEIPT = "lake.receipt"
"""A file where the writer lists the files it wrote, instead of committing them: the caller
commits (see `Lake.write`)."""
OPTION_SNAPSHOT = "lake.snapshot"
"""A snapshot (`Snapshot.to_json`) to read instead of the table's log: files not committed yet,
or the files of the partitions a read chose."""
OPTION_MARKS = "lake.commit.marks"
OPTION_NOTES = "lake.commit.notes"
OPTION_REPLACED = "lake.replaced.partitions"
OPTION_FILE_ROWS = "lake.file.rows"

_DEFAULT_MIN_PARTITIONS = 2


class LakeDataSource(DataSource):
    """Reads and writes the lake's tables; the table URI is the path (`load(uri)`, `save(uri)`)."""

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        # Pinned by `schema()` and pickled with the source, so that the reader plans from the
        # same version the schema came from.
        self._snapshot: Snapshot | None = None

    @classmethod
    def name(cls) -> str:
        return FORMAT_NAME

    def schema(self) -> StructType:
        from pyspark.sql.pandas.types import from_arrow_schema

        return from_arrow_schema(self._projected_snapshot().schema, prefer_timestamp_ntz=True)

    def reader(self, schema: StructType) -> DataSourceReader:
        from etl.core.lake.scan import LakeReader

        return LakeReader(
            uri=self._uri,
            storage=self._storage(),
            snapshot=self._projected_snapshot(),
            schema=schema,
            min_partitions=int(self.options.get(OPTION_MIN_PARTITIONS) or _DEFAULT_MIN_PARTITIONS),
        )

    def writer(self, schema: StructType, overwrite: bool) -> DataSourceWriter:
        from pyspark.sql.pandas.types import to_arrow_schema

        from etl.core.lake.commit import plan_write
        from etl.core.lake.write import LakeWriter

        mode = cast(
            "WriteMode", self.options.get(OPTION_MODE) or ("overwrite" if overwrite else "append")
        )
        storage = self._storage()
        plan = plan_write(
            self._uri,
            storage,
            schema=to_arrow_schema(schema, timezone="UTC"),
            mode=mode,
            partition_by=json.loads(self.options.get(OPTION_PARTITION_BY) or "[]"),
            table_format=self._format,
            marks=json.loads(self.options.get(OPTION_MARKS) or "{}"),
            notes=json.loads(self.options.get(OPTION_NOTES) or "{}"),
            replaced=json.loads(self.options.get(OPTION_REPLACED) or "[]"),
            file_rows=int(self.options.get(OPTION_FILE_ROWS) or 0) or None,
        )
        return LakeWriter(plan=plan, storage=storage, receipt=self.options.get(OPTION_RECEIPT))

    @property
    def _uri(self) -> str:
        uri = self.options.get("path")
        if not uri:
            raise ValueError(f"Give the table URI: spark.read.format({FORMAT_NAME!r}).load(uri)")
        return uri.rstrip("/")

    @property
    def _format(self) -> TableFormat:
        return cast("TableFormat", self.options.get(OPTION_FORMAT) or "delta")

    def _storage(self) -> Storage:
        from etl.core.lake.storage import Storage

        return Storage.from_options(self.options)

    def _projected_snapshot(self) -> Snapshot:
        from etl.core.lake.snapshot import Snapshot, load_snapshot

        if self._snapshot is None and OPTION_SNAPSHOT in self.options:
            self._snapshot = Snapshot.from_json(self.options[OPTION_SNAPSHOT])
        if self._snapshot is None:
            version = self.options.get(OPTION_VERSION)
            snapshot = load_snapshot(
                self._uri,
                self._storage(),
                table_format=self._format,
                version=int(version) if version else None,
            )
            columns = json.loads(self.options.get(OPTION_COLUMNS) or "null")
            if columns is not None:
                snapshot = snapshot.project(columns)
            self._snapshot = snapshot
        return self._snapshot
