"""Spark's entry point to the lake: every session finds `DefaultSource` here by itself.

Spark imports each installed top-level package named `pyspark_*` and registers its
`DefaultSource` under the source's `name()`, so `spark.read.format("rainforest_delta")` and
`CREATE TABLE ... USING rainforest_delta` work without `spark.dataSource.register`.
"""

from etl.core.lake.datasource import LakeDataSource as DefaultSource

__all__ = ["DefaultSource"]
