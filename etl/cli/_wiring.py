"""The composition root: what every command assembles from settings and services.

`etl.core` knows no service and reads no profile; commands load `ServiceSettings` (the
cluster profile applied) and resolve here what the framework is handed: the upstream
database, and the catalog of the project's tables and views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.services.settings import ServiceSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from etl.core.catalog import Catalog
    from etl.core.upstream import Upstream


def upstream(settings: ServiceSettings) -> Upstream:
    """The upstream database source tables copy from: RAINFOREST_PG_DSN, else the local
    server, which must be running (`rainforest db up`)."""
    from datagen import SCHEMA
    from etl.services.postgres import LocalPostgres

    return LocalPostgres(settings).upstream(SCHEMA)


def open_catalog(spark: SparkSession, settings: ServiceSettings) -> Catalog:
    """The project's catalog: every built table of the registry and the interface views."""
    from etl.core.catalog import Catalog
    from etl.core.registry import Registry
    from etl.interface import views_dir

    catalog = Catalog(spark, settings, Registry.discover(), views_dir=views_dir())
    catalog.refresh()
    return catalog
