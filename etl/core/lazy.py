"""Package attributes that import their module on first use.

Spark imports `etl.core` and `etl.core.lake` on every executor (through the lake's data
source); their public names must not drag pyspark's SQL functions, Great Expectations or
delta-rs into a worker that only needs the data source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` for `package` that finds each name in the module `homes` gives."""

    def __getattr__(name: str) -> object:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(homes[name]), name)

    return __getattr__
