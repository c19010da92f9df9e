"""The warehouse lock: one holder at a time, told apart by real Delta commits in a temporary
warehouse; a killed or silent holder is taken over, and a holder that was taken over knows."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from etl.core import lock as lock_module
from etl.core.errors import EXIT_BUSY
from etl.core.lock import (
    Holder,
    LockLostError,
    WarehouseBusyError,
    WarehouseLock,
    current_holder,
    holding_warehouse,
)
from etl.core.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(warehouse=str(tmp_path / "lakehouse"))


def elsewhere(run_id: str) -> Holder:
    """A holder on another machine: only its silence can show it is gone."""
    return Holder(
        run_id=run_id,
        purpose=f"run {run_id}",
        host="another-host",
        pid=1,
        since=datetime.now(UTC).replace(microsecond=0),
    )


def test_a_second_command_is_told_who_holds_the_warehouse(settings: Settings) -> None:
    first = Holder.this_process(run_id="first0001", purpose="run 2026-11-23")
    with holding_warehouse(settings, first):
        assert current_holder(settings) == first
        with pytest.raises(WarehouseBusyError) as refused:
            WarehouseLock(settings, elsewhere("second001")).acquire(wait=False)
    message = str(refused.value)
    for detail in ("run 2026-11-23", "first0001", first.host, f"pid {first.pid}", "--wait"):
        assert detail in message
    assert refused.value.exit_code == EXIT_BUSY
    assert current_holder(settings) is None
    second = elsewhere("second001")
    with holding_warehouse(settings, second):
        assert current_holder(settings) == second


def test_of_many_commands_starting_at_once_exactly_one_holds_the_warehouse(
    settings: Settings,
) -> None:
    def contend(lock: WarehouseLock, start: threading.Barrier, won: list[WarehouseLock]) -> None:
        start.wait()
        try:
            lock.acquire(wait=False)
        except WarehouseBusyError:
            return
        won.append(lock)

    for round_ in range(3):
        contenders = [WarehouseLock(settings, elsewhere(f"r{round_}c{n}")) for n in range(6)]
        start = threading.Barrier(len(contenders))
        won: list[WarehouseLock] = []
        threads = [threading.Thread(target=contend, args=(lock, start, won)) for lock in contenders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1
        assert current_holder(settings) == won[0].holder
        won[0].release()


def test_a_waiting_command_starts_when_the_holder_ends(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lock_module, "_POLL_S", 0.05)
    first = WarehouseLock(settings, elsewhere("first0001"))
    first.acquire(wait=False)
    releaser = threading.Timer(0.5, first.release)
    releaser.start()
    waited_for: list[Holder] = []
    second = WarehouseLock(settings, elsewhere("second001"))
    second.acquire(wait=True, on_wait=waited_for.append)
    releaser.join()
    assert waited_for == [first.holder]
    assert current_holder(settings) == second.holder
    assert second.taken_over is None
    second.release()


def test_the_lock_of_a_killed_process_on_this_host_is_taken_over_at_once(
    settings: Settings,
) -> None:
    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()
    gone = Holder(
        run_id="killed001",
        purpose="run 2026-11-23",
        host=Holder.this_process(run_id="x", purpose="x").host,
        pid=killed.pid,
        since=datetime.now(UTC).replace(microsecond=0),
    )
    WarehouseLock(settings, gone).acquire(wait=False)
    with holding_warehouse(settings, elsewhere("next00001")) as taker:
        assert taker.taken_over == gone


def test_a_silent_holder_elsewhere_is_taken_over_and_learns_it_lost(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lock_module, "_POLL_S", 0.05)
    silent = WarehouseLock(settings.model_copy(update={"lock_stale_after_s": 0.4}), elsewhere("a"))
    silent.acquire(wait=False)
    # The holder renews every 0.1 s; a taker that calls it stale after 0.02 s of silence
    # finds a gap soon, as it would find a holder whose machine stopped.
    impatient = settings.model_copy(update={"lock_stale_after_s": 0.02})
    with holding_warehouse(impatient, elsewhere("b"), wait=True) as taker:
        assert taker.taken_over == silent.holder
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                silent.check()
            except LockLostError as lost:
                assert "lost the warehouse to run b (b) on host another-host" in str(lost)
                break
            time.sleep(0.05)
        else:
            pytest.fail("the holder that was taken over never noticed")
        silent.release()
        assert current_holder(impatient) == taker.holder


def test_a_holder_that_renews_its_lock_is_not_taken_over(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lock_module, "_POLL_S", 0.05)
    patient = settings.model_copy(update={"lock_stale_after_s": 0.8})
    with holding_warehouse(patient, elsewhere("alive0001")) as alive:
        time.sleep(1.6)
        with pytest.raises(WarehouseBusyError):
            WarehouseLock(patient, elsewhere("other0001")).acquire(wait=False)
        alive.check()
