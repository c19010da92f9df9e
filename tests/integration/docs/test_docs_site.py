"""The docs site of the rainforest model, served by `rainforest docs serve` and read in headless
Chromium: pages load with no console error, the graph renders and links, the search filters,
a table page shows its columns, lineage, last run, quality trend and charts. Screenshots go
to `test-artifacts/`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from datagen import SCHEMA
from etl.core.lineage import model_lineage
from etl.core.pipeline import new_context, run_pipeline
from etl.core.registry import Registry
from etl.docs.site import build_site
from tests.e2e.reports import pipeline_settings, upstream_at
from tests.fixtures.postgres import TEST_END_DATE, change_an_email, generated_shop

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

REGISTRY = Registry.discover()
RAINFOREST = Path(sys.executable).parent / "rainforest"


@dataclass(frozen=True)
class Site:
    url: str
    folder: Path


@pytest.fixture(scope="module")
def site(
    postgres_dsn: str, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """Two runs (the second after an upstream change) documented, and the site served."""
    folder = tmp_path_factory.mktemp("docs")
    settings = pipeline_settings(folder)
    with generated_shop(postgres_dsn) as dsn:
        for day in (1, 2):
            if day == 2:
                change_an_email(dsn)
            context = new_context(
                spark, settings, REGISTRY, upstream=upstream_at(dsn), logical_date=TEST_END_DATE
            )
            assert run_pipeline(context).ok
    lineage = model_lineage(new_context(spark, settings, REGISTRY), REGISTRY, SCHEMA)
    docs = folder / "site"
    build_site(settings, REGISTRY, docs, source_schema=SCHEMA, lineage=lineage)
    server = subprocess.Popen(
        [str(RAINFOREST), "docs", "serve", "--folder", str(docs), "--port", "0"],
        env={**os.environ, "RAINFOREST_WAREHOUSE": settings.warehouse},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        announced = server.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", announced)
        assert found, announced
        yield Site(found.group(0), docs)
    finally:
        server.terminate()
        server.wait(timeout=30)


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    """A page at `url` and the errors its console and scripts report."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
    response = page.goto(url)
    assert response is not None and response.ok, url
    page.wait_for_load_state("networkidle")
    return page, errors


def test_the_index_draws_the_graph_and_finds_tables_by_name(
    site: Site, browser: Any, artifacts: Path
) -> None:
    page, errors = open_page(browser, site.url)
    page.screenshot(path=artifacts / "index.png", full_page=True)

    assert errors == []
    tables = {t.spec.qualified_name for t in REGISTRY}
    drawn = set(
        page.locator("svg.graph g.node").evaluate_all("nodes => nodes.map(n => n.dataset.table)")
    )
    assert tables <= drawn
    assert page.locator("svg.graph path.edge").count() >= len(tables)
    assert page.locator("#tables tbody tr:visible").count() == len(tables)

    page.fill("#search", "email")
    visible = set(page.locator("#tables tbody tr:visible td:first-child").all_inner_texts())
    assert visible == {
        "bronze.appuser",
        "silver.dim_buyer",
        "silver.dim_buyer_history",
        "silver.dim_seller",
        "gold.wide_orders",
    }
    page.screenshot(path=artifacts / "index-search.png", full_page=True)
    page.fill("#search", "no such thing")
    assert page.locator("#no-match").is_visible()

    page.fill("#search", "")
    page.locator('svg.graph g.node[data-table="gold.wide_orders"]').click()
    page.wait_for_url("**/tables/gold.wide_orders.html")
    assert page.locator("h1").inner_text().startswith("gold.wide_orders")


def test_a_table_page_shows_columns_lineage_runs_quality_and_history(
    site: Site, browser: Any, artifacts: Path
) -> None:
    page, errors = open_page(browser, f"{site.url}tables/gold.wide_orders.html")
    page.screenshot(path=artifacts / "wide_orders.png", full_page=True)

    assert errors == []
    email = page.locator(
        "#columns tr", has=page.locator("td:first-child", has_text=re.compile("^email$"))
    )
    cells = email.locator("td").all_inner_texts()
    assert cells[:3] == ["email", "string", "The buyer's email address (personal data)."]
    assert "silver.dim_buyer.email copied" in cells[3]
    assert (
        page.locator("svg.graph g.node.current").get_attribute("data-table") == "gold.wide_orders"
    )
    runs = page.locator("#runs tbody tr")
    assert runs.count() == 2
    assert runs.first.locator("td").nth(2).inner_text() == "ok", "the change reached it"
    assert page.locator("#quality tbody tr").count() == 2, "its primary key's two rules"
    assert page.locator("#quality td.pass").count() == 4
    for chart in page.locator(".charts img").all():
        assert chart.evaluate("image => image.naturalWidth") > 0
    data_docs = page.locator("a", has_text="Great Expectations Data Docs").first.get_attribute(
        "href"
    )
    assert page.request.get(f"{site.url}tables/{data_docs}").ok

    undocumented, _ = open_page(browser, f"{site.url}tables/silver.fact_orders.html")
    assert undocumented.locator("#columns .undocumented").count() > 0
    assert (
        "undocumented"
        in undocumented.locator("section", has=undocumented.locator("#columns")).inner_text()
    )
    undocumented.screenshot(path=artifacts / "fact_orders.png", full_page=True)
