"""Which failures are worth another attempt, and the attempts.

A table's build is idempotent: its rows and marks are committed together or not at all, so
a build that failed can run again from the start. Failures that another attempt can cure
(the database or the object store not answering, a connection reset or timed out,
throttling, a Delta commit that lost a race) are retried with exponential backoff and
jitter; failures that would fail the same way again (bad SQL, a schema that does not fit, a
broken `fail` rule, bad configuration) are not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from etl.core.errors import ConfigError, DataQualityError, ServiceUnavailableError

T = TypeVar("T")

_TRANSIENT_CLASSES = frozenset({"CommitFailedError", "OperationalError", "ConnectionError"})
_TRANSIENT_SIGNS = (
    "refused",
    "connection reset",
    "connection timed out",
    "timeout expired",
    "could not connect",
    "server closed the connection",
    "terminating connection",
    "an i/o error occurred while sending to the backend",
    "this connection has been closed",
    "broken pipe",
    "service unavailable",
    "service_unavailable",
    "slowdown",
    "slow_down",
    "slow down",
    "network_connection",
    "unable to connect",
    "couldn't connect",
    "throttl",
    "too many requests",
    "internalerror",
    "requesttimeout",
    "version already exists",
    "transaction conflict",
    "checkpoint_rdd_block_id_not_found",  # an executor holding a check's rows was lost
)


def transient_cause(error: BaseException) -> str | None:
    """Why `error` may pass on another attempt (its first line), or None when it would not."""
    if isinstance(error, ConfigError | DataQualityError):
        return None
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if (
            isinstance(current, ServiceUnavailableError)
            or type(current).__name__ in _TRANSIENT_CLASSES
        ):
            return _first_line(error)
        for line in str(current).splitlines():
            if _is_stack_frame(line):
                continue
            if any(sign in line.lower() for sign in _TRANSIENT_SIGNS):
                return _first_line(error, line)
        current = current.__cause__ or current.__context__
    return None


def attempts(
    call: Callable[[], T],
    *,
    tries: int,
    wait_s: float,
    max_wait_s: float,
    on_retry: Callable[[int, BaseException, float], None],
) -> T:
    """`call()`, again after each transient failure (see `transient_cause`), `tries` times at
    most; `on_retry(attempt, error, wait_s)` hears of each failure that is retried, before
    the wait."""

    def tell(state: RetryCallState) -> None:
        assert state.outcome is not None
        error = state.outcome.exception()
        assert error is not None
        wait_s = state.next_action.sleep if state.next_action is not None else 0.0
        on_retry(state.attempt_number, error, wait_s)

    retrying = Retrying(
        stop=stop_after_attempt(tries),
        wait=wait_exponential_jitter(initial=wait_s, max=max_wait_s, jitter=wait_s),
        retry=retry_if_exception(lambda error: transient_cause(error) is not None),
        before_sleep=tell,
        reraise=True,
    )
    return retrying(call)


def _is_stack_frame(line: str) -> bool:
    """A JVM stack frame that a Spark error's text carries: it names methods, not causes (a
    frame in `withInternalError` is in every analysis error's trace)."""
    return line.strip().startswith("at ")


def _first_line(error: BaseException, line: str | None = None) -> str:
    """`error`'s class and its first line, or the `line` of its chain that shows the cause (a
    Spark error's first line names only the call that failed)."""
    if line is None:
        text = str(error).strip()
        line = text.splitlines()[0] if text else ""
    line = line.strip()[:300]
    return f"{type(error).__name__}: {line}" if line else type(error).__name__
