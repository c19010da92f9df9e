from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from etl.core.quality.gx import build_data_docs
from etl.core.quality.rules import RuleResult, not_null


def test_each_run_writes_its_docs_into_its_own_folder(tmp_path: Path) -> None:
    """One process may run into several warehouses; docs must not land in the first one's."""
    first, second = tmp_path / "first", tmp_path / "second"
    run_ts = datetime(2025, 1, 31, tzinfo=UTC)

    for folder in (first, second):
        index = build_data_docs(folder, [], run_id="run-1", run_ts=run_ts)
        assert index == folder / "index.html"
        assert index.is_file()


def test_a_run_renders_its_own_pages_and_leaves_earlier_runs_pages_alone(tmp_path: Path) -> None:
    """Rendering follows the run, not the history: the index lists every run, but a page of
    an earlier run is not rendered again."""
    rule = not_null("order_id")
    result = RuleResult(
        table="fact_orders",
        rule=rule.name,
        severity=rule.severity,
        expectation=rule.expectation,
        success=True,
        unexpected_count=0,
        element_count=3,
    )
    runs = [("fact_orders", [rule], [result])]
    first_ts, second_ts = datetime(2025, 1, 30, tzinfo=UTC), datetime(2025, 1, 31, tzinfo=UTC)
    build_data_docs(tmp_path, runs, run_id="run-1", run_ts=first_ts)
    (first_page,) = [p for p in tmp_path.rglob("*.html") if "run-1" in str(p)]
    first_page.write_text("rendered once")

    index = build_data_docs(tmp_path, runs, run_id="run-2", run_ts=second_ts)

    assert first_page.read_text() == "rendered once"
    assert [p for p in tmp_path.rglob("*.html") if "run-2" in str(p)]
    listed = index.read_text()
    assert "run-1" in listed and "run-2" in listed
