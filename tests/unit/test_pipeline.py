"""run_pipeline and ProgressPrinter with toy tables whose `run()` only records; no Spark."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from rich.console import Console

from etl.core.dataset import Layer, TableSpec
from etl.core.errors import DataQualityError, LakeWriteError
from etl.core.pipeline import ProgressPrinter, RunSummary, TableOutcome, run_pipeline
from etl.core.registry import Registry
from etl.core.table import RunContext, Table


@dataclass(frozen=True)
class FakeWriteResult:
    version: int
    rows: int
    files: int
    rows_in: int | None = None
    rows_quarantined: int = 0


@dataclass
class FakeLake:
    """Stands in for the lake: records which tables were built and fails the ones told to."""

    failures: dict[str, Exception] = field(default_factory=dict)
    built: list[str] = field(default_factory=list)

    def build(self, name: str) -> FakeWriteResult:
        self.built.append(name)
        if name in self.failures:
            raise self.failures[name]
        return FakeWriteResult(version=len(self.built) - 1, rows=1000 * len(name), files=1)


class RecordingTable(Table):
    def run(self) -> FakeWriteResult:  # type: ignore[override]
        return cast(FakeLake, self.context.lake).build(self.spec.name)


def toy(name: str, *upstream: str, layer: Layer = "silver") -> type[Table]:
    spec = TableSpec(
        name=name, layer=layer, grain=f"one row per {name}", primary_keys=("id",), upstream=upstream
    )
    return type(f"Toy_{name}", (RecordingTable,), {"spec": spec, "__module__": __name__})


# customers -> orders -> revenue -> report, customers -> payments
TABLES = (
    toy("customers", layer="bronze"),
    toy("orders", "customers"),
    toy("payments", "customers"),
    toy("revenue", "orders", "payments", layer="gold"),
    toy("report", "revenue", layer="gold"),
)
PLAN = ["customers", "orders", "payments", "revenue", "report"]


def context(lake: FakeLake, tables: tuple[type[Table], ...] = TABLES) -> RunContext:
    placeholder: Any = object()
    return RunContext(
        spark=placeholder,
        settings=placeholder,
        lake=cast(Any, lake),
        registry=Registry(tables),
        run_id="run-test-1",
        run_ts=datetime(2024, 1, 2, tzinfo=UTC),
    )


def by_name(summary: RunSummary) -> dict[str, TableOutcome]:
    return {o.name: o for o in summary.outcomes}


def test_every_table_is_built_once_in_order() -> None:
    lake = FakeLake()

    summary = run_pipeline(context(lake))

    assert lake.built == PLAN
    assert [o.name for o in summary.outcomes] == PLAN
    assert summary.ok
    assert summary.run_id == "run-test-1"
    orders = by_name(summary)["orders"]
    assert (orders.status, orders.layer, orders.rows, orders.version) == ("ok", "silver", 6000, 1)
    assert orders.seconds >= 0


def test_targets_build_only_what_they_need() -> None:
    lake = FakeLake()

    summary = run_pipeline(context(lake), ["orders"])

    assert lake.built == ["customers", "orders"]
    assert [o.name for o in summary.outcomes] == ["customers", "orders"]


def test_failure_skips_downstream_but_not_siblings() -> None:
    error = DataQualityError("silver.orders: 2 rows have a null primary key (order_id).")
    lake = FakeLake(failures={"orders": error})

    summary = run_pipeline(context(lake))
    outcomes = by_name(summary)

    assert lake.built == ["customers", "orders", "payments"], "each table is tried at most once"
    assert outcomes["orders"].status == "failed"
    assert outcomes["orders"].message == str(error)
    assert outcomes["orders"].rows is None
    assert outcomes["payments"].status == "ok"
    assert outcomes["revenue"].status == "skipped"
    assert "orders" in outcomes["revenue"].message
    assert outcomes["report"].status == "skipped", "skips propagate transitively"
    assert "revenue" in outcomes["report"].message
    assert not summary.ok
    assert summary.failures() == [outcomes["orders"]]


def test_every_user_error_becomes_a_failed_outcome() -> None:
    lake = FakeLake(failures={"customers": LakeWriteError("disk full; nothing was written")})

    summary = run_pipeline(context(lake))

    assert [o.status for o in summary.outcomes] == ["failed"] + ["skipped"] * 4
    assert lake.built == ["customers"]


def test_a_bug_is_not_swallowed() -> None:
    lake = FakeLake(failures={"payments": KeyError("order_id")})

    with pytest.raises(KeyError):
        run_pipeline(context(lake))


def test_on_outcome_is_called_once_per_table_in_plan_order() -> None:
    seen: list[TableOutcome] = []
    lake = FakeLake(failures={"orders": DataQualityError("bad")})

    summary = run_pipeline(context(lake), on_outcome=seen.append)

    assert seen == list(summary.outcomes)
    assert [o.name for o in seen] == PLAN


def test_run_summary_ok_and_failures() -> None:
    ok = TableOutcome(name="a", layer="bronze", status="ok", rows=1)
    failed = TableOutcome(name="b", layer="silver", status="failed", message="boom")
    skipped = TableOutcome(name="c", layer="gold", status="skipped")

    assert RunSummary(run_id="r", outcomes=(ok,)).ok
    assert not RunSummary(run_id="r", outcomes=(ok, skipped)).ok
    assert RunSummary(run_id="r", outcomes=(ok, failed, skipped)).failures() == [failed]


def printed(outcomes: list[TableOutcome], *, summary: bool = False) -> str:
    console = Console(record=True, width=120, color_system=None)
    printer = ProgressPrinter(console)
    for outcome in outcomes:
        printer(outcome)
    if summary:
        printer.summary(RunSummary(run_id="run-test-1", outcomes=tuple(outcomes)))
    return console.export_text()


def test_progress_line_shows_rows_seconds_and_status() -> None:
    text = printed(
        [TableOutcome(name="orders", layer="silver", status="ok", rows=1234567, seconds=2.345)]
    )

    assert "silver.orders" in text
    assert "1,234,567 rows" in text
    assert "2.3 s" in text
    assert text.rstrip().endswith("ok")


def test_progress_line_of_a_failure_shows_its_message() -> None:
    message = "silver.orders: 2 rows have a null primary key (order_id)."
    text = printed(
        [TableOutcome(name="orders", layer="silver", status="failed", seconds=0.4, message=message)]
    )

    first, second = text.splitlines()[:2]
    assert "✗" in first and "failed" in first and "rows" not in first
    assert second.strip() == message


def test_progress_line_prints_messages_literally() -> None:
    """Messages carry user data (example keys); rich must not read brackets in them as markup."""
    message = "silver.orders: duplicate keys, e.g. sku='[red]' (2x); sku='[/]' (3x)"
    outcome = TableOutcome(name="orders", layer="silver", status="failed", message=message)

    text = printed([outcome])

    assert message in text


def test_summary_table() -> None:
    outcomes = [
        TableOutcome(
            name="orders", layer="silver", status="ok", rows=12345, seconds=1.26, version=3
        ),
        TableOutcome(name="revenue", layer="gold", status="skipped"),
    ]

    text = printed(outcomes, summary=True)
    summary_lines = text[text.index("run run-test-1") :].splitlines()
    orders_row = next(line for line in summary_lines if "silver.orders" in line)
    revenue_row = next(line for line in summary_lines if "gold.revenue" in line)

    assert cells(orders_row) == ["silver.orders", "12,345", "12,345", "0", "1.3", "3", "ok"]
    assert cells(revenue_row) == ["gold.revenue", "", "", "", "0.0", "", "skipped"]


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split("│")[1:-1]]


@pytest.mark.parametrize(("status", "mark"), [("ok", "✓"), ("failed", "✗"), ("skipped", "-")])
def test_each_status_has_its_mark(status: str, mark: str) -> None:
    outcome = TableOutcome(name="t", layer="gold", status=status)  # type: ignore[arg-type]

    assert printed([outcome]).startswith(f"{mark} gold.t ")
