"""The one error datagen raises for a request it cannot fulfil; its message says what to do."""

from __future__ import annotations


class DatagenError(ValueError):
    """Bad arguments (a scale or defect rate out of range) or data already in the way."""
