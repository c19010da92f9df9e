"""What every local service shares: its git-ignored state folder, and loopback ports."""

from __future__ import annotations

import fcntl
import socket
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

LOOPBACK = "127.0.0.1"


@contextmanager
def locked(folder: Path, *, foreign: Callable[[], Exception]) -> Iterator[None]:
    """Serialise `up` and `down` between processes, e.g. two terminals or `make` targets.

    A folder another user owns cannot be locked; `foreign()` is the error that says so.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
    except PermissionError as error:
        raise foreign() from error


def port_is_free(port: int) -> bool:
    """Whether a server could listen on `port` of the loopback address (with SO_REUSEADDR,
    as servers set it, so a port in TIME_WAIT counts as free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port nobody listens on now, chosen by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports: all are held open together while the kernel picks them."""
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind((LOOPBACK, 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def free_port_pair(*, exclude: Collection[int] = ()) -> int:
    """A free port whose successor is free too: the stack's worker UIs take consecutive ports."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((LOOPBACK, 0))
            port = int(probe.getsockname()[1])
            if {port, port + 1} & set(exclude):
                continue
            with socket.socket() as successor:
                try:
                    successor.bind((LOOPBACK, port + 1))
                except OSError:
                    continue
                return port
    raise OSError("no two consecutive free loopback ports found")
