"""What every local service shares about its git-ignored state folder."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


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
