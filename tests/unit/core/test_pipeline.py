"""run_pipeline with toy tables whose `run()` only records; no Spark (a stand-in records the
job groups and scheduler pools each table's thread sets)."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from etl.core.dataset import Layer, TableSpec
from etl.core.errors import DataQualityError, LakeWriteError, ServiceUnavailableError
from etl.core.lock import Holder, WarehouseBusyError, holding_warehouse
from etl.core.pipeline import (
    RunEvent,
    RunSummary,
    TableFinished,
    TableOutcome,
    TableRetried,
    TableStarted,
    run_pipeline,
)
from etl.core.quality.engine import RulesBroken
from etl.core.registry import Registry
from etl.core.settings import Settings
from etl.core.table import RunContext, Table, TableBuild


@dataclass
class FakeLake:
    """Stands in for the lake: records which tables were built and fails the ones told to."""

    failures: dict[str, Exception] = field(default_factory=dict)
    built: list[str] = field(default_factory=list)
    flaky: dict[str, int] = field(default_factory=dict)
    """Tables whose first builds find the database away, and how many."""

    def build(self, name: str) -> TableBuild:
        self.built.append(name)
        if name in self.failures:
            raise self.failures[name]
        if self.built.count(name) <= self.flaky.get(name, 0):
            raise ServiceUnavailableError("Cannot reach Postgres at 127.0.0.1:5432")
        return TableBuild(version=len(self.built) - 1, rows=1000 * len(name))


class FakeSparkContext:
    """The SparkContext calls the runner makes, recorded per thread."""

    defaultParallelism = 2

    def __init__(self) -> None:
        self.local = threading.local()
        self.pools: dict[str, str] = {}

    def setLocalProperty(self, key: str, value: str | None) -> None:
        setattr(self.local, key, value)

    def setJobGroup(self, group: str, description: str) -> None:
        self.local.group = group

    def cancelAllJobs(self) -> None:
        raise AssertionError("nothing to cancel")


class RecordingTable(Table):
    def run(self) -> TableBuild:
        spark_context = self.context.spark.sparkContext
        pool = getattr(spark_context.local, "spark.scheduler.pool")
        spark_context.pools[self.spec.name] = f"{pool} / {spark_context.local.group}"
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


WAREHOUSE: dict[str, str] = {}
"""The test's own temporary warehouse, where the run holds the lock."""


@pytest.fixture(autouse=True)
def _own_warehouse(tmp_path: Path) -> None:
    WAREHOUSE["path"] = str(tmp_path / "lakehouse")


def context(
    lake: FakeLake, tables: tuple[type[Table], ...] = TABLES, *, threads: int = 1
) -> RunContext:
    spark: Any = SimpleNamespace(sparkContext=FakeSparkContext())
    return RunContext(
        spark=spark,
        settings=Settings(warehouse=WAREHOUSE["path"], threads=threads, retry_wait_s=0),
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


def test_events_report_each_start_and_finish() -> None:
    seen: list[RunEvent] = []
    lake = FakeLake(failures={"orders": DataQualityError("bad")})

    summary = run_pipeline(context(lake), on_event=seen.append)

    finished = [e.outcome for e in seen if isinstance(e, TableFinished)]
    assert sorted(finished, key=lambda o: PLAN.index(o.name)) == list(summary.outcomes)
    started = [e.name for e in seen if isinstance(e, TableStarted)]
    assert started == ["customers", "orders", "payments"], "a skipped table never starts"
    for name in started:
        start = seen.index(TableStarted(name=name, layer=by_name(summary)[name].layer))
        finish = seen.index(TableFinished(outcome=by_name(summary)[name]))
        assert start < finish
    assert {o.name for o in summary.outcomes if o.status == "skipped"} == {"revenue", "report"}


def test_concurrent_builds_keep_the_summary_in_build_order() -> None:
    lake = FakeLake()
    run_context = context(lake, threads=3)

    summary = run_pipeline(run_context)

    assert sorted(lake.built) == sorted(PLAN)
    assert lake.built.index("customers") < lake.built.index("payments")
    assert lake.built.index("revenue") < lake.built.index("report")
    assert [o.name for o in summary.outcomes] == PLAN
    assert summary.ok


def test_each_table_builds_in_a_job_group_and_pool_of_its_own() -> None:
    run_context = context(FakeLake(), threads=2)

    run_pipeline(run_context)

    pools = run_context.spark.sparkContext.pools
    assert pools["orders"] == "silver.orders / silver.orders"
    assert pools["customers"] == "bronze.customers / bronze.customers"


def test_threads_given_to_the_run_win_over_the_setting() -> None:
    seen: list[RunEvent] = []

    run_pipeline(context(FakeLake(), threads=4), on_event=seen.append, threads=1)

    # One thread: every table finishes before the next one starts.
    kinds = [type(e).__name__ for e in seen]
    assert kinds == ["TableStarted", "TableFinished"] * len(PLAN)


def test_run_summary_ok_and_failures() -> None:
    ok = TableOutcome(name="a", layer="bronze", status="ok", rows=1)
    failed = TableOutcome(name="b", layer="silver", status="failed", message="boom")
    skipped = TableOutcome(name="c", layer="gold", status="skipped")

    assert RunSummary(run_id="r", outcomes=(ok,)).ok
    assert not RunSummary(run_id="r", outcomes=(ok, skipped)).ok
    assert RunSummary(run_id="r", outcomes=(ok, failed, skipped)).failures() == [failed]


def test_the_exit_code_tells_a_broken_rule_from_a_failure() -> None:
    rules_only = FakeLake(failures={"payments": RulesBroken("payments: 2 rows break rule", ())})
    both = FakeLake(
        failures={
            "payments": RulesBroken("payments: 2 rows break rule", ()),
            "orders": LakeWriteError("disk full; nothing was written"),
        }
    )

    assert run_pipeline(context(FakeLake())).exit_code == 0
    assert run_pipeline(context(rules_only)).exit_code == 3, "the data is at fault"
    assert run_pipeline(context(both)).exit_code == 1, "the system is at fault too"
    failed = by_name(run_pipeline(context(rules_only)))["payments"]
    assert (failed.error_class, failed.exit_code) == ("RulesBroken", 3)


def test_a_transient_failure_is_retried_and_said() -> None:
    lake = FakeLake(flaky={"orders": 2})

    summary = run_pipeline(context(lake))

    assert summary.ok
    orders = by_name(summary)["orders"]
    assert lake.built.count("orders") == 3
    assert orders.retries == 2
    assert orders.warnings == (
        "attempt 1 of 3 failed and is retried: ServiceUnavailableError: Cannot reach Postgres "
        "at 127.0.0.1:5432",
        "attempt 2 of 3 failed and is retried: ServiceUnavailableError: Cannot reach Postgres "
        "at 127.0.0.1:5432",
    )


def test_a_failure_that_outlasts_the_retries_fails_the_table() -> None:
    lake = FakeLake(flaky={"orders": 5})

    outcome = by_name(run_pipeline(context(lake)))["orders"]

    assert (outcome.status, outcome.retries, lake.built.count("orders")) == ("failed", 2, 3)
    assert outcome.error_class == "ServiceUnavailableError"


def test_a_permanent_failure_is_not_retried() -> None:
    lake = FakeLake(failures={"orders": LakeWriteError("column 'price' is decimal in the table")})

    outcome = by_name(run_pipeline(context(lake)))["orders"]

    assert (outcome.status, outcome.retries, lake.built.count("orders")) == ("failed", 0, 1)


def test_a_retry_is_an_event_the_moment_it_happens() -> None:
    seen: list[RunEvent] = []
    lake = FakeLake(flaky={"orders": 2})

    run_pipeline(context(lake), on_event=seen.append)

    def about_orders(event: RunEvent) -> bool:
        if isinstance(event, TableFinished):
            return event.outcome.name == "orders"
        return getattr(event, "name", None) == "orders"

    orders = [e for e in seen if about_orders(e)]
    retried = [e for e in orders if isinstance(e, TableRetried)]
    assert [(e.attempt, e.attempts) for e in retried] == [(1, 3), (2, 3)]
    assert retried[0].cause == "ServiceUnavailableError: Cannot reach Postgres at 127.0.0.1:5432"
    assert isinstance(orders[0], TableStarted) and isinstance(orders[-1], TableFinished)


def test_a_run_on_a_held_warehouse_builds_nothing() -> None:
    lake = FakeLake()
    run_context = context(lake)
    other = Holder.this_process(run_id="other0001", purpose="maintain")

    with holding_warehouse(run_context.settings, other), pytest.raises(WarehouseBusyError) as busy:
        run_pipeline(run_context)

    assert "maintain (other0001)" in str(busy.value)
    assert lake.built == []


def test_a_service_that_stays_away_fails_the_table_without_a_traceback() -> None:
    spark_said = OSError(
        "Kernel error -> Generic S3 error\n"
        "  Error performing GET http://127.0.0.1:8333/lake/orders/_delta_log/_last_checkpoint\n"
        "  tcp connect error\n"
        "  Connection refused (os error 111)"
    )
    lake = FakeLake(failures={"orders": spark_said})

    outcome = by_name(run_pipeline(context(lake)))["orders"]

    assert (outcome.status, outcome.retries, lake.built.count("orders")) == ("failed", 2, 3)
    assert outcome.message == (
        "OSError: Connection refused (os error 111) (still failing after 3 attempts)"
    )


class RecordingSource(RecordingTable):
    """Copies the upstream table of its name, as a source table does."""

    reads_database = True

    @classmethod
    def expected_rows(cls, upstream_rows: Any, source_rows: Any) -> float:
        return float(source_rows.get(cls.spec.name, 0))


def test_the_chain_reading_most_rows_upstream_starts_first() -> None:
    """One thread: the large events table and what reads it go before the small accounts,
    which the build order lists first, as the database's estimates say."""
    sources = tuple(
        type(f"Source_{n}", (RecordingSource,), {"spec": toy(n, layer="bronze").spec})
        for n in ("accounts", "events")
    )
    tables = (*sources, toy("sessions", "events"), toy("profiles", "accounts"))
    lake = FakeLake()
    run = context(lake, tables)
    estimates = {"accounts": 10, "events": 1_000_000}
    run = dataclasses.replace(
        run, upstream=cast(Any, SimpleNamespace(estimated_rows=lambda: estimates))
    )

    run_pipeline(run)

    assert lake.built == ["events", "sessions", "accounts", "profiles"]
