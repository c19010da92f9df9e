"""Source tables: one snapshot per ingestion date, read from the upstream the run was given."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from etl.core.errors import ConfigError
from etl.core.source_table import INGESTION_DATE, SourceTable, source_spec
from etl.core.table import RunContext


class Orders(SourceTable):
    spec = source_spec("orders", key="order_id")


def test_source_spec_keeps_one_snapshot_per_ingestion_date() -> None:
    spec = source_spec("orders", key="order_id")

    assert spec.qualified_name == "bronze.orders"
    assert spec.primary_keys == ("order_id", INGESTION_DATE)
    assert spec.partition_by == (INGESTION_DATE,)
    assert spec.mode == "overwrite_partitions"
    assert spec.upstream == ()


def test_a_run_without_an_upstream_says_so_before_touching_spark() -> None:
    placeholder: Any = object()
    context = RunContext(
        spark=placeholder,
        settings=placeholder,
        lake=placeholder,
        registry=placeholder,
        run_id="r",
        run_ts=datetime(2025, 1, 1, tzinfo=UTC),
    )

    with pytest.raises(ConfigError, match="without an upstream database"):
        Orders(context).extract()
