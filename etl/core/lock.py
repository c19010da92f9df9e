"""One writer at a time per warehouse: the run lock at `<warehouse>/ops/lock`.

Two runs on one warehouse would both read the same high-water marks and log the same upstream
changes twice, and a maintenance vacuum under a running build can delete the files it is
about to commit. So every command that writes (`run`, `backfill`, `restore`, `maintain`) holds
the warehouse while it works; a second one is told who holds it (run id, host, pid, since
when) and either stops or, asked to, waits.

The lock is a register in the lake itself (`etl.core.lake.register`), so it holds across
machines on S3 as well as on a local folder. A holder proves it is alive by setting the lock
again every quarter of `lock_stale_after_s`; a lock whose holder stopped doing so (killed,
machine gone), or whose holder's process is gone on this very host, is taken over, and the
taker is told whose lock it took.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from etl.core.errors import EXIT_BUSY, RainforestError
from etl.core.lake.register import RegisterValue, read_register, set_register
from etl.core.lake.storage import Storage
from etl.core.settings import Settings

LOCK_TABLE = "lock"
_POLL_S = 2.0


class WarehouseBusyError(RainforestError):
    """Another command holds the warehouse."""

    exit_code = EXIT_BUSY


class LockLostError(RainforestError):
    """This command's hold on the warehouse was taken over, so it must not write on."""


@dataclass(frozen=True, kw_only=True)
class Holder:
    """Who holds the warehouse, in words a person can act on."""

    run_id: str
    purpose: str
    """What it is doing: `run 2026-11-23`, `maintain`, `restore silver.fact_orders`."""
    host: str
    pid: int
    since: datetime

    @classmethod
    def this_process(cls, *, run_id: str, purpose: str) -> Holder:
        return cls(
            run_id=run_id,
            purpose=purpose,
            host=socket.gethostname(),
            pid=os.getpid(),
            since=datetime.now(UTC).replace(microsecond=0),
        )

    def describe(self) -> str:
        return (
            f"{self.purpose} ({self.run_id}) on host {self.host}, pid {self.pid}, "
            f"since {self.since:%Y-%m-%d %H:%M:%S} UTC"
        )

    def values(self) -> dict[str, str]:
        return {
            "state": "held",
            "run_id": self.run_id,
            "purpose": self.purpose,
            "host": self.host,
            "pid": str(self.pid),
            "since": self.since.isoformat(),
        }

    @classmethod
    def of(cls, value: RegisterValue | None) -> Holder | None:
        """The holder a lock value names; None for a free lock."""
        if value is None or value.values.get("state") != "held":
            return None
        values = value.values
        return cls(
            run_id=values["run_id"],
            purpose=values["purpose"],
            host=values["host"],
            pid=int(values["pid"]),
            since=datetime.fromisoformat(values["since"]),
        )


def lock_uri(settings: Settings) -> str:
    return settings.table_uri("ops", LOCK_TABLE)


def current_holder(settings: Settings) -> Holder | None:
    """Who holds the warehouse now, stale or not; None when it is free."""
    return Holder.of(read_register(lock_uri(settings), Storage.from_settings(settings)))


class WarehouseLock:
    """A hold on the warehouse, kept alive by a heartbeat thread until `release`."""

    def __init__(self, settings: Settings, holder: Holder) -> None:
        self.holder = holder
        self.taken_over: Holder | None = None
        """The holder whose stale lock this one replaced, for the caller to report."""
        self._uri = lock_uri(settings)
        self._storage = Storage.from_settings(settings)
        self._stale_after_s = settings.lock_stale_after_s
        self._lost = threading.Event()
        self._lost_to: Holder | None = None
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(
            target=self._beat, name="warehouse lock heartbeat", daemon=True
        )

    def acquire(self, *, wait: bool, on_wait: Callable[[Holder], None] | None = None) -> None:
        """Hold the warehouse, taking over a stale lock; if another command holds it, raise
        `WarehouseBusyError` or, with `wait`, wait until it is released (`on_wait` hears who
        is waited for, once per holder)."""
        waited_for: Holder | None = None
        while True:
            value = read_register(self._uri, self._storage)
            other = Holder.of(value)
            if other is not None and not self._is_stale(other, value):
                if not wait:
                    raise WarehouseBusyError(
                        f"The warehouse is held by {other.describe()}. Wait for it to end, "
                        "or run again with --wait to start as soon as it does."
                    )
                if other != waited_for and on_wait is not None:
                    on_wait(other)
                waited_for = other
                time.sleep(_POLL_S)
                continue
            replacing = value.version if value is not None else None
            if set_register(self._uri, self._storage, self.holder.values(), replacing=replacing):
                self.taken_over = other
                self._heartbeat.start()
                return

    def check(self) -> None:
        """Raise `LockLostError` if another command took the warehouse over."""
        if self._lost.is_set():
            taker = self._lost_to.describe() if self._lost_to else "another command"
            raise LockLostError(
                f"This {self.holder.purpose} lost the warehouse to {taker}, which found it "
                f"silent for over {self._stale_after_s:g} s; nothing more is written. Check "
                "`rainforest runs`, then run again."
            )

    def release(self) -> None:
        """Free the warehouse, unless another command took it over meanwhile."""
        self._stop.set()
        if self._heartbeat.is_alive():
            self._heartbeat.join()
        while not self._lost.is_set():
            value = read_register(self._uri, self._storage)
            if Holder.of(value) != self.holder or value is None:
                return
            if set_register(self._uri, self._storage, {"state": "free"}, replacing=value.version):
                return

    def _is_stale(self, holder: Holder, value: RegisterValue | None) -> bool:
        if value is None:
            return False
        silent_s = (datetime.now(UTC) - value.at).total_seconds()
        if silent_s > self._stale_after_s:
            return True
        return holder.host == socket.gethostname() and not _process_alive(holder.pid)

    def _beat(self) -> None:
        """Set the lock again now and then, so that others see the holder alive; notice
        when another command took it over."""
        while not self._stop.wait(self._stale_after_s / 4):
            try:
                value = read_register(self._uri, self._storage)
                holder = Holder.of(value)
                if holder != self.holder or value is None:
                    self._lost_to = holder
                    self._lost.set()
                    return
                set_register(
                    self._uri, self._storage, self.holder.values(), replacing=value.version
                )
            except Exception:  # an unreachable store: try again next beat
                continue


@contextmanager
def holding_warehouse(
    settings: Settings,
    holder: Holder,
    *,
    wait: bool = False,
    on_wait: Callable[[Holder], None] | None = None,
) -> Iterator[WarehouseLock]:
    """Hold the warehouse for the block (see `WarehouseLock.acquire`)."""
    lock = WarehouseLock(settings, holder)
    lock.acquire(wait=wait, on_wait=on_wait)
    try:
        yield lock
    except BaseException:
        # The block's error is the one to report; a store that does not answer now leaves
        # the lock to go stale.
        with suppress(Exception):
            lock.release()
        raise
    lock.release()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
