"""Errors a user can cause. Each message says what to do; the CLI prints it without a traceback."""

from __future__ import annotations


class RainforestError(Exception):
    """Base of every error whose message is meant for the user."""


class ConfigError(RainforestError):
    """Configuration is missing or invalid."""


class ServiceUnavailableError(RainforestError):
    """A service the run needs (Postgres, S3, Spark master) does not answer."""


class TableNotFoundError(RainforestError):
    """A table name is unknown, or a table has not been written yet."""


class DependencyCycleError(RainforestError):
    """Tables depend on each other in a circle, so no build order exists."""


class DataQualityError(RainforestError):
    """Data broke a rule whose severity stops the table."""


class LakeWriteError(RainforestError):
    """A write to the lake failed; the table keeps its previous version."""
