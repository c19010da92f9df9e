"""The whole pipeline on the native three-node cluster with S3, as a user runs it.

The stack starts from a temporary state folder on free ports, so it never meets a developer's own
stack; the pipeline runs as `rainforest run` in a subprocess with RAINFOREST_PROFILE=cluster and
nothing else about the cluster configured: the profile must find the master, the bucket and the
credentials by itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from deltalake import DeltaTable

from datagen import generate, row_counts
from etl.core.registry import Registry
from etl.core.settings import PROJECT_ROOT
from etl.services.postgres import LocalPostgres
from etl.services.settings import STACK_BUCKET, ServiceSettings
from etl.services.stack import NativeStack, command_line
from etl.services.state import free_port_pair, free_ports
from tests.e2e.reports import CATEGORY_REPORT_SQL, ORDER_REPORT_SQL, Report, postgres_report
from tests.fixtures.postgres import (
    TEST_END_DATE,
    TEST_SCALE,
    TEST_SEED,
    load_into,
    own_state_dir,
)

pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.postgres, pytest.mark.s3]

RAINFOREST = Path(sys.executable).parent / "rainforest"
STACK_TIMEOUT_S = 300
RUN_TIMEOUT_S = 900
HISTORY_TIMEOUT_S = 90
PORT_VARIABLES = (
    "RAINFOREST_STACK_MASTER_PORT",
    "RAINFOREST_STACK_MASTER_UI_PORT",
    "RAINFOREST_STACK_HISTORY_PORT",
    "RAINFOREST_STACK_S3_PORT",
    "RAINFOREST_PG_PORT",
)


@dataclass(frozen=True)
class Cluster:
    env: dict[str, str]
    settings: ServiceSettings
    """As `rainforest` sees them in `env`."""
    stack: NativeStack


@dataclass(frozen=True)
class ClusterRun:
    cluster: Cluster
    dsn: str
    counts: dict[str, int]
    output: str


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with ExitStack() as cleanup:
        state_dir = cleanup.enter_context(own_state_dir())
        env = _cluster_env(state_dir)
        cleanup.callback(_rainforest, env, "stack", "down", check=False)
        _rainforest(env, "stack", "up", timeout=STACK_TIMEOUT_S)
        with mock.patch.dict(os.environ, env, clear=True):  # after `up`: it made the credentials
            settings = ServiceSettings(_env_file=None)  # type: ignore[call-arg]
        yield Cluster(env=env, settings=settings, stack=NativeStack(settings))


@pytest.fixture(scope="module")
def cluster_run(cluster: Cluster) -> ClusterRun:
    dsn = LocalPostgres(cluster.settings).dsn()
    tables = generate(scale=TEST_SCALE, seed=TEST_SEED, end_date=TEST_END_DATE)
    load_into(dsn, tables)
    output = _rainforest(cluster.env, "run", timeout=RUN_TIMEOUT_S)
    return ClusterRun(cluster=cluster, dsn=dsn, counts=row_counts(tables), output=output)


def test_cluster_profile_points_at_the_stack(cluster: Cluster) -> None:
    settings, stack = cluster.settings, cluster.stack
    assert settings.spark_master == stack.master_url
    assert settings.warehouse_uri == f"s3://{STACK_BUCKET}/lakehouse"
    assert settings.s3_endpoint == stack.s3_endpoint
    assert settings.spark_event_log_dir == stack.event_log_dir
    assert settings.s3_secret_access_key is not None


def test_up_again_starts_nothing(cluster: Cluster) -> None:
    before = cluster.stack.pids()

    output = _rainforest(cluster.env, "stack", "up", timeout=STACK_TIMEOUT_S)

    assert "Already running" in output
    assert cluster.stack.pids() == before
    assert set(before) == {
        "spark-master",
        "spark-worker-1",
        "spark-worker-2",
        "spark-history",
        "s3",
        "postgres",
    }


def test_status_shows_every_address_and_no_secret(cluster: Cluster) -> None:
    stack = cluster.stack

    output = _rainforest(cluster.env, "stack", "status")

    for address in (
        stack.master_ui,
        stack.master_url,
        *stack.worker_uis,
        stack.history_ui,
        stack.s3_endpoint,
        LocalPostgres(cluster.settings).dsn(),
    ):
        assert address in output
    assert output.count("running") == 6
    assert _secret(cluster.settings) not in output


def test_every_table_builds(cluster_run: ClusterRun) -> None:
    assert "failed" not in cluster_run.output
    for table in Registry.discover():
        assert table.spec.qualified_name in cluster_run.output


def test_tasks_ran_on_both_workers(cluster_run: ClusterRun) -> None:
    stack = cluster_run.cluster.stack
    app_id = _finished_app(stack.history_ui, name="rainforest")
    executors = _get_json(f"{stack.history_ui}/api/v1/applications/{app_id}/allexecutors")
    tasks = {executor["id"]: executor["totalTasks"] for executor in executors}

    for worker_ui in stack.worker_uis:
        worker = _get_json(f"{worker_ui}/json/")
        ran_here = [
            str(executor["id"])
            for executor in worker["executors"] + worker["finishedexecutors"]
            if executor["appid"] == app_id
        ]
        assert ran_here, f"no executor of {app_id} on {worker_ui}"
        assert sum(tasks.get(executor_id, 0) for executor_id in ran_here) > 0, worker_ui


def test_reports_equal_sql_on_postgres(cluster_run: ClusterRun) -> None:
    settings = cluster_run.cluster.settings

    orders = _lake_report(
        settings,
        "daily_order_metrics",
        ["order_date"],
        ["order_count", "total_revenue", "mean_revenue"],
    )
    categories = _lake_report(
        settings,
        "daily_category_metrics",
        ["order_date", "category"],
        ["mean_revenue", "median_revenue"],
    )

    assert len(orders) > 10
    assert orders == postgres_report(cluster_run.dsn, ORDER_REPORT_SQL, key_columns=1)
    assert len(categories) > 50
    assert categories == postgres_report(cluster_run.dsn, CATEGORY_REPORT_SQL, key_columns=2)


def test_lake_tables_are_delta_tables_in_the_bucket(cluster_run: ClusterRun) -> None:
    settings = cluster_run.cluster.settings
    key_id, secret = _credentials(settings)
    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        region_name=settings.s3_region,
    )
    keys = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=STACK_BUCKET, Prefix="lakehouse/"
        )
        for item in page.get("Contents", [])
    ]
    tables = {key.split("/_delta_log/")[0] for key in keys if "/_delta_log/" in key}

    expected = {f"lakehouse/{t.spec.layer}/{t.spec.name}" for t in Registry.discover()}
    assert expected <= tables, expected - tables
    for table in sorted(tables):
        delta = DeltaTable(
            f"s3://{STACK_BUCKET}/{table}", storage_options=settings.storage_options()
        )
        assert delta.version() >= 0
        # The warehouse lock (ops/lock) is a table of commits without files.
        assert delta.file_uris() or table not in expected, table
    wide_orders = DeltaTable(
        settings.table_uri("gold", "wide_orders"), storage_options=settings.storage_options()
    )
    assert wide_orders.to_pyarrow_table().num_rows == cluster_run.counts["orders"]


def test_credentials_stay_out_of_output_and_history(cluster_run: ClusterRun) -> None:
    stack = cluster_run.cluster.stack
    secret = _secret(cluster_run.cluster.settings)
    app_id = _finished_app(stack.history_ui, name="rainforest")
    history = [
        _get_text(f"{stack.history_ui}/api/v1/applications/{app_id}/{path}")
        for path in ("environment", "sql?details=true&planDescription=true")
    ]
    logs = [path.read_text(errors="replace") for path in stack.root.rglob("*.log")]
    executor_logs = [
        path.read_text(errors="replace")
        for path in (stack.root / "work").rglob("*")
        if path.name in ("stdout", "stderr")
    ]

    assert executor_logs
    for text in (cluster_run.output, *history, *logs, *executor_logs):
        assert secret not in text


def test_down_leaves_no_process(cluster: Cluster) -> None:
    """Last in this module: it takes the stack down (the fixture's own `down` then does nothing)."""
    pids = cluster.stack.pids()
    assert len(pids) == 6

    output = _rainforest(cluster.env, "stack", "down")

    assert "postgres" in output
    left = {name: pid for name, pid in pids.items() if command_line(pid) is not None}
    assert not left, f"still running: {left}"
    groups = set(pids.values()) - {pids["postgres"]}
    assert not _live_processes_in_groups(groups)
    assert not LocalPostgres(cluster.settings).status().running
    assert cluster.stack.pids() == {}


def _cluster_env(state_dir: Path) -> dict[str, str]:
    """The caller's environment without its RAINFOREST_* settings, plus the stack's own."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("RAINFOREST_") or name == "RAINFOREST_JDBC_JAR"
    }
    ports = free_ports(len(PORT_VARIABLES))
    env.update(zip(PORT_VARIABLES, map(str, ports), strict=True))
    env.update(
        {
            "RAINFOREST_PROFILE": "cluster",
            "RAINFOREST_STATE_DIR": str(state_dir),
            "RAINFOREST_STACK_WORKER_UI_PORT": str(free_port_pair(exclude=ports)),
            "RAINFOREST_SPARK_SHUFFLE_PARTITIONS": "4",
            # Spark finds the `pyspark_rainforest` data source by scanning sys.path for packages,
            # and an editable install's import hook is invisible to that scan: outside the
            # repository (the run's working folder is the state folder), name it explicitly.
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])
            ),
        }
    )
    return env


def _rainforest(env: dict[str, str], *args: str, timeout: float = 120, check: bool = True) -> str:
    """Run the CLI in the state folder, where no `.env` can change what the test set."""
    result = subprocess.run(
        [str(RAINFOREST), *args],
        env={**env, "COLUMNS": "200"},
        cwd=env["RAINFOREST_STATE_DIR"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    if check:
        assert result.returncode == 0, f"rainforest {' '.join(args)} failed:\n{output}"
    return output


def _lake_report(
    settings: ServiceSettings, table: str, keys: list[str], values: list[str]
) -> Report:
    """A gold table read with delta-rs alone, keyed like `postgres_report`."""
    data = DeltaTable(
        settings.table_uri("gold", table), storage_options=settings.storage_options()
    ).to_pyarrow_table()
    return {
        tuple(row[k] for k in keys): tuple(row[v] for v in values)
        for row in data.select([*keys, *values]).to_pylist()
    }


def _finished_app(history_ui: str, *, name: str) -> str:
    """The id of the finished application `name`, once the history server has read its log."""
    deadline = time.monotonic() + HISTORY_TIMEOUT_S
    while True:
        apps = _get_json(f"{history_ui}/api/v1/applications?status=completed")
        found = [app["id"] for app in apps if app["name"] == name]
        if found:
            assert len(found) == 1, found
            return str(found[0])
        assert time.monotonic() < deadline, f"{name} not in the history server: {apps}"
        time.sleep(2)


def _live_processes_in_groups(groups: set[int]) -> list[str]:
    listing = subprocess.run(
        ["ps", "-eo", "pid=,pgid=,stat=,comm="], capture_output=True, text=True, check=True
    ).stdout
    return [
        line
        for line in listing.splitlines()
        if (fields := line.split()) and int(fields[1]) in groups and not fields[2].startswith("Z")
    ]


def _secret(settings: ServiceSettings) -> str:
    return _credentials(settings)[1]


def _credentials(settings: ServiceSettings) -> tuple[str, str]:
    assert settings.s3_access_key_id is not None and settings.s3_secret_access_key is not None
    return (
        settings.s3_access_key_id.get_secret_value(),
        settings.s3_secret_access_key.get_secret_value(),
    )


def _get_json(url: str) -> Any:
    return json.loads(_get_text(url))


def _get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.read().decode())
