"""Errors a user can cause. Each message says what to do; the CLI prints it without a traceback
and ends with the error's `exit_code` (documented in the README's Commands section)."""

from __future__ import annotations

from typing import ClassVar

EXIT_FAILED = 1
"""A table failed, or something a command needs is not there (a service, a table)."""
EXIT_USAGE = 2
"""Bad arguments or configuration: nothing was done."""
EXIT_RULE_BROKEN = 3
"""A `fail` quality rule broke (and nothing else failed): the data, not the system."""
EXIT_BUSY = 4
"""Another command holds the warehouse (`--wait` waits for it instead)."""


class RainforestError(Exception):
    """Base of every error whose message is meant for the user."""

    exit_code: ClassVar[int] = EXIT_FAILED


class ConfigError(RainforestError):
    """Configuration or arguments are missing, contradictory or invalid."""

    exit_code = EXIT_USAGE


class ServiceUnavailableError(RainforestError):
    """A service the run needs (Postgres, S3, Spark master) does not answer."""


class TableNotFoundError(RainforestError):
    """A table name is unknown, or a table has not been written yet."""


class DependencyCycleError(RainforestError):
    """Tables depend on each other in a circle, so no build order exists."""

    exit_code = EXIT_USAGE


class DataQualityError(RainforestError):
    """Data broke a rule whose severity stops the table."""


class LakeWriteError(RainforestError):
    """A write to the lake failed; the table keeps its previous version."""


class LogDamagedError(RainforestError):
    """The newest entries of a table's Delta log cannot be read, while an earlier version can:
    a disk or a copy cut them short. Nothing is guessed; a restore sets them aside."""

    def __init__(self, uri: str, *, damaged: tuple[int, ...], intact: int, cause: str) -> None:
        self.uri = uri
        self.damaged = damaged
        self.intact = intact
        name = ".".join(uri.rstrip("/").split("/")[-2:])
        entries = ", ".join(str(version) for version in damaged)
        super().__init__(
            f"The Delta log of {name} ({uri}) is damaged: its entry for version {entries} "
            f"cannot be read ({cause}); version {intact} is intact. `rainforest restore {name} "
            f"--version {intact}` makes it current again, setting the damaged entry aside; "
            "the next run then brings the table and what reads it up to date."
        )
