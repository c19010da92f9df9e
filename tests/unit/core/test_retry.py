"""Which failures are retried: those another attempt can cure, and only those."""

from __future__ import annotations

import psycopg2
import pytest

from etl.core.errors import (
    ConfigError,
    DataQualityError,
    LakeWriteError,
    ServiceUnavailableError,
)
from etl.core.retry import attempts, transient_cause


def wrapped(outer: Exception, inner: Exception) -> Exception:
    try:
        try:
            raise inner
        except Exception as error:
            raise outer from error
    except Exception as raised:
        return raised


@pytest.mark.parametrize(
    "error",
    [
        ServiceUnavailableError("Cannot reach Postgres at 127.0.0.1:5432"),
        psycopg2.OperationalError("server closed the connection unexpectedly"),
        wrapped(LakeWriteError("Writing gold/x failed"), OSError("AWS Error SLOW_DOWN")),
        wrapped(LakeWriteError("Writing gold/x failed"), OSError("HTTP 503 Service Unavailable")),
        RuntimeError("org.postgresql.util.PSQLException: Connection to 127.0.0.1:5432 refused"),
        RuntimeError("An I/O error occurred while sending to the backend."),
        wrapped(LakeWriteError("Committing failed"), RuntimeError("version already exists")),
        ConnectionResetError("connection reset by peer"),
        RuntimeError("[CHECKPOINT_RDD_BLOCK_ID_NOT_FOUND] Checkpoint block rdd_5_1 not found!"),
    ],
)
def test_transient_failures_are_retried(error: Exception) -> None:
    assert transient_cause(error) is not None


@pytest.mark.parametrize(
    "error",
    [
        DataQualityError("silver.orders: 2 rows break rule total_positive"),
        ConfigError("services are refused: connection refused by a typo"),
        LakeWriteError("column 'price' is decimal(10,2) in the table but string in the new data"),
        RuntimeError("org.postgresql.util.PSQLException: ERROR: syntax error at or near"),
        KeyError("order_id"),
        RuntimeError(
            "[WINDOW_FUNCTION_NOT_ALLOWED_IN_CLAUSE] It is not allowed to use window functions "
            "inside WHERE clause.\n\tat org.apache.spark.sql.execution.QueryExecution$"
            ".withInternalError(QueryExecution.scala:927)"
        ),
    ],
)
def test_permanent_failures_are_not(error: Exception) -> None:
    assert transient_cause(error) is None


def test_attempts_until_one_passes_and_tells_each_retry() -> None:
    calls: list[int] = []
    told: list[tuple[int, str]] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ServiceUnavailableError("Cannot reach Postgres")
        return "built"

    result = attempts(
        flaky,
        tries=3,
        wait_s=0,
        max_wait_s=0,
        on_retry=lambda n, error, _wait: told.append((n, type(error).__name__)),
    )

    assert result == "built"
    assert told == [(1, "ServiceUnavailableError"), (2, "ServiceUnavailableError")]


def test_a_permanent_failure_is_raised_at_once() -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise DataQualityError("a fail rule broke")

    with pytest.raises(DataQualityError):
        attempts(broken, tries=5, wait_s=0, max_wait_s=0, on_retry=lambda *_: None)
    assert len(calls) == 1
