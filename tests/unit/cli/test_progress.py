"""The CLI's rendering of a run's events: progress lines, the spinner line, the summary."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pytest
from rich.console import Console

from etl.cli._progress import JsonEventPrinter, ProgressPrinter
from etl.core.lock import Holder
from etl.core.pipeline import (
    RunSummary,
    TableFinished,
    TableOutcome,
    TableRetried,
    TableStarted,
    TookOverWarehouse,
    WaitingForWarehouse,
)


def printed(outcomes: list[TableOutcome], *, summary: bool = False) -> str:
    console = Console(record=True, width=120, color_system=None)
    printer = ProgressPrinter(console)
    for outcome in outcomes:
        printer(TableStarted(name=outcome.name, layer=outcome.layer))
        printer(TableFinished(outcome=outcome))
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


def test_progress_line_of_an_ok_build_shows_its_warnings() -> None:
    warning = "The high-water mark of bronze.orders (2025-03-02) is ahead of [the source]"
    outcome = TableOutcome(
        name="orders", layer="bronze", status="ok", rows=0, warnings=(warning, "second")
    )

    lines = printed([outcome]).splitlines()

    assert "ok" in lines[0]
    assert lines[1].strip() == f"warning: {warning}"
    assert lines[2].strip() == "warning: second"


def test_summary_table() -> None:
    outcomes = [
        TableOutcome(
            name="orders",
            layer="silver",
            status="ok",
            rows=12345,
            seconds=1.26,
            version=3,
            strategy="merge(order_id)",
            rows_read=1500,
            rows_changed=1200,
            partitions_replaced=4,
        ),
        TableOutcome(
            name="daily",
            layer="gold",
            status="ok",
            rows=0,
            version=7,
            strategy="by_date(order_date)",
            rows_read=0,
            up_to_date=True,
        ),
        TableOutcome(name="revenue", layer="gold", status="skipped"),
    ]

    text = printed(outcomes, summary=True)
    summary_lines = text[text.index("run run-test-1") :].splitlines()

    def row(name: str) -> list[str]:
        return cells(next(line for line in summary_lines if name in line))

    assert row("silver.orders") == [
        "silver.orders", "merge(order_id)", "1,500", "1,200", "4", "0", "12,345", "1.3", "3", "ok"
    ]  # fmt: skip
    assert row("gold.daily")[-1] == "skipped (up to date)"
    assert row("gold.revenue") == ["gold.revenue", "", "", "", "", "", "", "0.0", "", "skipped"]


def test_progress_line_names_the_strategy_and_why_a_build_was_whole() -> None:
    merged = TableOutcome(
        name="orders",
        layer="silver",
        status="ok",
        rows=9000,
        rows_changed=120,
        strategy="merge(order_id)",
        partitions_replaced=3,
    )
    whole = TableOutcome(
        name="dim", layer="silver", status="ok", rows=20, strategy="full", note="category changed"
    )

    merged_line, whole_line = printed([merged, whole]).splitlines()

    assert "120 rows" in merged_line
    assert "merge(order_id), 3 partitions" in merged_line
    assert whole_line.endswith("full (category changed)")


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split("│")[1:-1]]


@pytest.mark.parametrize(("status", "mark"), [("ok", "✓"), ("failed", "✗"), ("skipped", "-")])
def test_each_status_has_its_mark(status: str, mark: str) -> None:
    outcome = TableOutcome(name="t", layer="gold", status=status)  # type: ignore[arg-type]

    assert printed([outcome]).startswith(f"{mark} gold.t ")


@pytest.mark.parametrize("terminal", [True, False])
def test_only_a_terminal_shows_the_table_in_flight(terminal: bool) -> None:
    out = io.StringIO()
    printer = ProgressPrinter(
        Console(file=out, force_terminal=terminal, width=120, color_system=None, highlight=False)
    )
    orders = TableOutcome(name="orders", layer="silver", status="ok", rows=5)

    printer(TableStarted(name="orders", layer="silver"))
    printer(TableFinished(outcome=orders))
    printer.close()

    shown = out.getvalue()
    assert ("building silver.orders" in shown) is terminal
    assert "silver.orders" in shown and "5 rows" in shown


def test_json_events_are_one_object_per_line_with_the_run_and_the_outcome() -> None:
    output = io.StringIO()
    printer = JsonEventPrinter(run_id="run-7", logical_date=date(2026, 3, 2), output=output)
    failed = TableOutcome(
        name="orders",
        layer="silver",
        status="failed",
        seconds=0.4,
        message="silver.orders: 2 rows break rule total_positive",
        error_class="RulesBroken",
        exit_code=3,
    )
    printer(TableStarted(name="orders", layer="silver"))
    printer(TableFinished(outcome=failed))
    printer.summary(RunSummary(run_id="run-7", outcomes=(failed,)))

    started, finished, ended = (json.loads(line) for line in output.getvalue().splitlines())
    assert started["event"] == "table_started" and started["table"] == "silver.orders"
    assert {e["run_id"] for e in (started, finished, ended)} == {"run-7"}
    assert {e["logical_date"] for e in (started, finished, ended)} == {"2026-03-02"}
    assert finished["event"] == "table_finished"
    assert (finished["status"], finished["error_class"]) == ("failed", "RulesBroken")
    assert finished["message"] == "silver.orders: 2 rows break rule total_positive"
    assert ended == {**ended, "event": "run_finished", "exit_code": 3, "tables": {"failed": 1}}


def test_retries_and_the_warehouse_lock_are_events_too() -> None:
    output = io.StringIO()
    printer = JsonEventPrinter(run_id="run-7", logical_date=date(2026, 3, 2), output=output)
    holder = Holder(
        run_id="3f9c2a1b7d4e",
        purpose="run 2026-03-01",
        host="etl-1",
        pid=48213,
        since=datetime(2026, 3, 2, 1, 15, 2, tzinfo=UTC),
    )
    printer(WaitingForWarehouse(holder=holder))
    printer(TookOverWarehouse(previous=holder))
    cause = "ServiceUnavailableError: Cannot reach Postgres"
    printer(
        TableRetried(name="orders", layer="bronze", attempt=1, attempts=3, cause=cause, wait_s=2.3)
    )

    waiting, took_over, retried = (json.loads(line) for line in output.getvalue().splitlines())
    expected_holder = {
        "run_id": "3f9c2a1b7d4e",
        "purpose": "run 2026-03-01",
        "host": "etl-1",
        "pid": 48213,
        "since": "2026-03-02T01:15:02+00:00",
    }
    assert (waiting["event"], waiting["holder"]) == ("waiting_for_warehouse", expected_holder)
    assert (took_over["event"], took_over["previous"]) == ("took_over_warehouse", expected_holder)
    assert retried == {
        **retried,
        "event": "table_retried",
        "table": "bronze.orders",
        "attempt": 1,
        "attempts": 3,
        "cause": cause,
        "wait_s": 2.3,
    }


def test_a_retry_prints_its_line_when_it_happens() -> None:
    console = Console(record=True, width=160, color_system=None)
    ProgressPrinter(console)(
        TableRetried(
            name="orders", layer="bronze", attempt=2, attempts=3, cause="OSError: reset", wait_s=4
        )
    )
    assert "bronze.orders: attempt 2 of 3 failed, again in 4.0 s: OSError: reset" in (
        console.export_text()
    )
