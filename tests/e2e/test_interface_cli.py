"""The interface as stakeholders use it: `rainforest sql` and `rainforest serve` in fresh processes.

The warehouse is written by this test process; every query runs in a later, separate one.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyspark
import pytest
from pyspark.sql import SparkSession

from etl.core.settings import Settings
from etl.services.state import free_port
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

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

RAINFOREST = Path(sys.executable).parent / "rainforest"
BEELINE = Path(pyspark.__file__).parent / "bin" / "beeline"
COMMAND_SECONDS = 180
SERVER_STARTUP_SECONDS = 120
BEELINE_PROMPT = re.compile(r"^\d+: jdbc:hive2://\S+> ")
REPORTS = {
    "daily_order_report": ORDER_REPORT_CSV,
    "funnel_report": FUNNEL_REPORT_CSV,
    "daily_business_report": BUSINESS_REPORT_CSV,
    "customer_segments_report": SEGMENTS_REPORT_CSV,
    "product_performance_report": PRODUCT_REPORT_CSV,
}
"""Every report view but the category one (which `rainforest sql` prints), and its rows."""


@pytest.fixture(scope="module")
def env(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of a command over a warehouse holding only the gold tables of the reports."""
    root = tmp_path_factory.mktemp("interface")
    settings = Settings(warehouse=str(root / "lakehouse"))
    write_order_metrics(spark, settings)
    write_category_metrics(spark, settings)
    write_funnel_metrics(spark, settings)
    write_marts(spark, settings)
    return {
        **os.environ,
        "RAINFOREST_WAREHOUSE": str(root / "lakehouse"),
        "RAINFOREST_STATE_DIR": str(root / "state"),
        "RAINFOREST_SPARK_MASTER": "local[2]",
        "RAINFOREST_SPARK_SHUFFLE_PARTITIONS": "2",
    }


def _rainforest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RAINFOREST), *args],
        env=env,
        cwd=Path(env["RAINFOREST_STATE_DIR"]).parent,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
    )


def test_sql_prints_a_report_as_csv(env: dict[str, str]) -> None:
    result = _rainforest(env, "sql", "--format", "csv", "SELECT * FROM daily_category_report")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == CATEGORY_REPORT_CSV


def test_sql_names_a_table_not_built_without_a_traceback(env: dict[str, str]) -> None:
    result = _rainforest(env, "sql", "SELECT count(*) FROM wide_orders")

    assert result.returncode == 1
    assert "gold.wide_orders is not built yet" in result.stderr
    assert "rainforest run wide_orders" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_answers_jdbc_while_sql_runs_and_stops_cleanly(
    env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        # A session of its own: the server and everything it starts can be found, and ended.
        server = subprocess.Popen(
            [str(RAINFOREST), "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_port(port, server, log)
        beeline = subprocess.run(
            [
                str(BEELINE),
                "-u",
                f"jdbc:hive2://127.0.0.1:{port}",
                "--silent=true",
                "--outputformat=csv2",
                "-e",
                "; ".join(f"SELECT * FROM {view}" for view in REPORTS),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
        )
        assert beeline.returncode == 0, beeline.stderr
        expected = [_over_jdbc(line) for report in REPORTS.values() for line in report]
        assert _without_prompt(beeline.stdout) == expected

        # No metastore lock: another process queries the lake while the server runs.
        query = _rainforest(env, "sql", "-f", "csv", "SELECT * FROM daily_order_report")
        assert query.stdout.splitlines() == ORDER_REPORT_CSV, query.stderr

        server.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert server.wait(timeout=COMMAND_SECONDS) == 0, log.read_text()
        assert _wait_until_gone(server.pid) == [], "processes of the server are left"
        assert "Stopped." in log.read_text()
    finally:
        if _session_processes(server.pid):
            os.killpg(server.pid, signal.SIGKILL)


def _over_jdbc(line: str) -> str:
    """A fixture's CSV line as beeline prints it: nulls as `NULL`, not Python's `None`."""
    return ",".join("NULL" if value == "None" else value for value in line.split(","))


def _without_prompt(output: str) -> list[str]:
    """Beeline's lines without the prompt it prints before a result even when silent."""
    return [BEELINE_PROMPT.sub("", line) for line in output.splitlines()]


def _wait_for_port(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"rainforest serve exited with {server.returncode}:\n{log.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    pytest.fail(f"rainforest serve did not listen on {port}:\n{log.read_text()}")


def _wait_until_gone(session_id: int, seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := _session_processes(session_id)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def _session_processes(session_id: int) -> list[int]:
    """Live processes of a session (zombies are already gone but for their exit status)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while we looked
        state, session = fields[0], int(fields[3])
        if session == session_id and state != "Z":
            found.append(int(stat.parent.name))
    return found
