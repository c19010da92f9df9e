"""The catalog over a tiny warehouse: views answer by name and follow new table versions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from etl.core.catalog import Catalog, QueryError
from etl.core.errors import ConfigError, TableNotFoundError
from etl.core.registry import Registry
from etl.core.settings import Settings
from etl.tables.gold.customer_segments import CustomerSegments
from etl.tables.gold.daily_business_metrics import DailyBusinessMetrics
from etl.tables.gold.daily_category_metrics import DailyCategoryMetrics
from etl.tables.gold.daily_funnel_metrics import DailyFunnelMetrics
from etl.tables.gold.daily_order_metrics import DailyOrderMetrics
from etl.tables.gold.product_performance import ProductPerformance
from tests.fixtures.reports import (
    BUSINESS_REPORT_CSV,
    CATEGORY_REPORT_CSV,
    FUNNEL_REPORT_CSV,
    ORDER_REPORT_CSV,
    PRODUCT_REPORT_CSV,
    SEGMENTS_REPORT_CSV,
    write_category_metrics,
    write_funnel_metrics,
    write_marts,
    write_order_metrics,
)

pytestmark = pytest.mark.spark

VIEWS = Path(str(files("etl.interface")))
REPORTED = [DailyOrderMetrics, DailyCategoryMetrics, DailyFunnelMetrics]
MARTS = [DailyBusinessMetrics, CustomerSegments, ProductPerformance]
REGISTRY = Registry([*REPORTED, *MARTS])


@pytest.fixture
def session(spark: SparkSession) -> Iterator[SparkSession]:
    """A session of its own, so that no test sees another's temporary views."""
    yield spark.newSession()


def _catalog(session: SparkSession, settings: Settings, views: Path = VIEWS) -> Catalog:
    catalog = Catalog(session, settings, REGISTRY, views_dir=views)
    catalog.refresh()
    return catalog


def _csv(session: SparkSession, query: str) -> list[str]:
    result = session.sql(query)
    rows = [",".join(str(value) for value in row) for row in result.collect()]
    return [",".join(result.columns), *rows]


def test_report_views_answer_with_their_columns_in_date_order(
    session: SparkSession, local_settings: Settings
) -> None:
    write_order_metrics(session, local_settings)
    write_category_metrics(session, local_settings)
    write_funnel_metrics(session, local_settings)
    write_marts(session, local_settings)
    catalog = _catalog(session, local_settings)

    assert _csv(session, "SELECT * FROM daily_order_report") == ORDER_REPORT_CSV
    assert _csv(session, "SELECT * FROM daily_category_report") == CATEGORY_REPORT_CSV
    assert _csv(session, "SELECT * FROM funnel_report") == FUNNEL_REPORT_CSV
    assert _csv(session, "SELECT * FROM daily_business_report") == BUSINESS_REPORT_CSV
    assert _csv(session, "SELECT * FROM customer_segments_report") == SEGMENTS_REPORT_CSV
    assert _csv(session, "SELECT * FROM product_performance_report") == PRODUCT_REPORT_CSV
    assert catalog.missing == {}
    assert {(e.name, e.kind, e.layer) for e in catalog.entries} == {
        ("daily_order_metrics", "table", "gold"),
        ("daily_category_metrics", "table", "gold"),
        ("daily_funnel_metrics", "table", "gold"),
        ("daily_business_metrics", "table", "gold"),
        ("customer_segments", "table", "gold"),
        ("product_performance", "table", "gold"),
        ("daily_order_report", "view", "interface"),
        ("daily_category_report", "view", "interface"),
        ("funnel_report", "view", "interface"),
        ("daily_business_report", "view", "interface"),
        ("customer_segments_report", "view", "interface"),
        ("product_performance_report", "view", "interface"),
    }


def test_refresh_moves_a_table_to_its_newest_version_and_its_view_follows(
    session: SparkSession, local_settings: Settings
) -> None:
    write_order_metrics(session, local_settings)
    write_category_metrics(session, local_settings)
    catalog = _catalog(session, local_settings)
    write_order_metrics(
        session, local_settings, [(date(2024, 4, 1), 3, Decimal("9"), Decimal("3"))]
    )

    assert _csv(session, "SELECT * FROM daily_order_report")[1:] == ORDER_REPORT_CSV[1:]
    assert catalog.refresh() == ["daily_order_metrics"]
    assert _csv(session, "SELECT * FROM daily_order_report")[1:] == ["2024-04-01,9.00,3.00,3"]
    assert catalog.refresh() == []


def test_an_unbuilt_table_and_the_view_over_it_say_how_to_build_them(
    session: SparkSession, local_settings: Settings
) -> None:
    write_order_metrics(session, local_settings)
    write_funnel_metrics(session, local_settings)
    write_marts(session, local_settings)
    catalog = _catalog(session, local_settings)

    assert set(catalog.missing) == {"daily_category_metrics", "daily_category_report"}
    expected = "rainforest run daily_category_metrics"
    with pytest.raises(TableNotFoundError, match=expected), catalog.explained_errors():
        session.sql("SELECT * FROM daily_category_report").collect()

    write_category_metrics(session, local_settings)
    assert catalog.refresh() == ["daily_category_metrics", "daily_category_report"]
    assert _csv(session, "SELECT * FROM daily_category_report") == CATEGORY_REPORT_CSV


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        (
            "SELECT * FROM gold.daily_order_metrics",
            TableNotFoundError,
            "query `daily_order_metrics`",
        ),
        ("SELECT * FROM no_such_table", TableNotFoundError, "rainforest tables"),
        ("SELEC 1", QueryError, "PARSE_SYNTAX_ERROR"),
        ("SELECT no_such_column FROM daily_order_report", QueryError, "UNRESOLVED_COLUMN"),
        ("SELECT 1 / 0", QueryError, "DIVIDE_BY_ZERO"),
    ],
)
def test_query_errors_become_messages(
    session: SparkSession,
    local_settings: Settings,
    query: str,
    error: type[Exception],
    message: str,
) -> None:
    write_order_metrics(session, local_settings)
    catalog = _catalog(session, local_settings)

    with pytest.raises(error, match=message), catalog.explained_errors():
        session.sql(query).collect()


def test_a_view_named_like_a_table_is_refused(
    session: SparkSession, local_settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "daily_order_metrics.sql").write_text("SELECT 1 AS one")

    with pytest.raises(ConfigError, match="rename the file"):
        _catalog(session, local_settings, views=tmp_path)


def test_an_invalid_view_is_reported_and_the_others_still_answer(
    session: SparkSession, local_settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "broken.sql").write_text("SELECT no_such_column FROM daily_order_metrics")
    (tmp_path / "order_count.sql").write_text(
        "SELECT sum(order_count) AS n FROM daily_order_metrics"
    )
    write_order_metrics(session, local_settings)
    catalog = _catalog(session, local_settings, views=tmp_path)

    assert "UNRESOLVED_COLUMN" in catalog.missing["broken"]
    assert session.sql("SELECT n FROM order_count").first() == (3,)
