"""run_pipeline with toy tables whose `run()` only records; no Spark."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from etl.core.dataset import Layer, TableSpec
from etl.core.errors import DataQualityError, LakeWriteError
from etl.core.pipeline import (
    RunEvent,
    RunSummary,
    TableFinished,
    TableOutcome,
    TableStarted,
    run_pipeline,
)
from etl.core.registry import Registry
from etl.core.table import RunContext, Table, TableBuild


@dataclass
class FakeLake:
    """Stands in for the lake: records which tables were built and fails the ones told to."""

    failures: dict[str, Exception] = field(default_factory=dict)
    built: list[str] = field(default_factory=list)

    def build(self, name: str) -> TableBuild:
        self.built.append(name)
        if name in self.failures:
            raise self.failures[name]
        return TableBuild(version=len(self.built) - 1, rows=1000 * len(name))


class RecordingTable(Table):
    def run(self) -> TableBuild:
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


def test_events_report_each_start_and_finish_in_plan_order() -> None:
    seen: list[RunEvent] = []
    lake = FakeLake(failures={"orders": DataQualityError("bad")})

    summary = run_pipeline(context(lake), on_event=seen.append)

    finished = [e.outcome for e in seen if isinstance(e, TableFinished)]
    assert finished == list(summary.outcomes)
    assert [o.name for o in finished] == PLAN
    # A skipped table never starts; every other one starts right before it finishes.
    assert seen == [
        event
        for outcome in summary.outcomes
        for event in (
            *(
                [TableStarted(name=outcome.name, layer=outcome.layer)]
                if outcome.status != "skipped"
                else []
            ),
            TableFinished(outcome=outcome),
        )
    ]
    assert {o.name for o in summary.outcomes if o.status == "skipped"} == {"revenue", "report"}


def test_run_summary_ok_and_failures() -> None:
    ok = TableOutcome(name="a", layer="bronze", status="ok", rows=1)
    failed = TableOutcome(name="b", layer="silver", status="failed", message="boom")
    skipped = TableOutcome(name="c", layer="gold", status="skipped")

    assert RunSummary(run_id="r", outcomes=(ok,)).ok
    assert not RunSummary(run_id="r", outcomes=(ok, skipped)).ok
    assert RunSummary(run_id="r", outcomes=(ok, failed, skipped)).failures() == [failed]
