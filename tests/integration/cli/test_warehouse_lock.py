"""A command that writes finds the warehouse held by another process: it stops with exit code
4 and the holder's run id, host, pid and start, or with --wait starts once the holder ends.
Separate processes, as two schedulers would start them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

RAINFOREST = Path(sys.executable).parent / "rainforest"
HOLD = """
import sys, time
from etl.core.lock import Holder, holding_warehouse
from etl.core.settings import Settings

holder = Holder.this_process(run_id="holder001", purpose="run 2026-11-23")
with holding_warehouse(Settings(), holder):
    print("held", flush=True)
    time.sleep(float(sys.argv[1]))
"""


def hold(env: dict[str, str], seconds: float) -> subprocess.Popen[str]:
    """A process that holds the warehouse for `seconds`, once it says so."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(seconds)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_held_warehouse_stops_a_second_command_or_makes_it_wait(tmp_path: Path) -> None:
    env = {**os.environ, "RAINFOREST_WAREHOUSE": str(tmp_path / "lakehouse")}
    holder = hold(env, 4)
    maintain = [str(RAINFOREST), "maintain", "gold.wide_orders"]

    refused = subprocess.run(maintain, env=env, capture_output=True, text=True, check=False)

    assert refused.returncode == 4, refused.stderr
    message = " ".join(refused.stderr.split())
    for detail in ("run 2026-11-23 (holder001)", socket.gethostname(), f"pid {holder.pid}"):
        assert detail in message
    assert "--wait" in message

    started = time.monotonic()
    waited = subprocess.run(
        [*maintain, "--wait"], env=env, capture_output=True, text=True, check=False
    )

    assert waited.returncode == 0, waited.stderr
    assert "Waiting for run 2026-11-23 (holder001)" in " ".join(waited.stderr.split())
    assert holder.wait(timeout=10) == 0
    assert time.monotonic() - started > 1, "it waited for the holder to end"


def test_the_lock_of_a_killed_command_is_taken_over_with_a_warning(tmp_path: Path) -> None:
    env = {**os.environ, "RAINFOREST_WAREHOUSE": str(tmp_path / "lakehouse")}
    holder = hold(env, 600)
    holder.kill()
    holder.wait()

    after = subprocess.run(
        [str(RAINFOREST), "maintain", "gold.wide_orders"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert after.returncode == 0, after.stderr
    message = " ".join(after.stderr.split())
    assert "took over the warehouse from run 2026-11-23 (holder001)" in message
    assert f"pid {holder.pid}" in message
