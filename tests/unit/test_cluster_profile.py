"""RAINFOREST_PROFILE=cluster: defaults that point at the native stack, unless set explicitly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from etl.core.errors import ConfigError
from etl.core.session import spark_conf
from etl.core.settings import STACK_CREDENTIALS_FILE, get_settings, stack_dir


@pytest.fixture(autouse=True)
def state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RAINFOREST_* variable from the caller's shell, no `.env`, a state folder of its own."""
    for name in list(os.environ):
        if name.upper().startswith("RAINFOREST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAINFOREST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("RAINFOREST_PROFILE", "cluster")
    return tmp_path / "state"


def _write_stack_credentials(state_dir: Path) -> None:
    stack_dir(state_dir).mkdir(parents=True)
    (stack_dir(state_dir) / STACK_CREDENTIALS_FILE).write_text(
        json.dumps({"access_key_id": "stack-key", "secret_access_key": "stack-secret"})
    )


def test_cluster_profile_points_at_the_native_stack(state_dir: Path) -> None:
    _write_stack_credentials(state_dir)

    settings = get_settings()

    assert settings.spark_master == "spark://127.0.0.1:7077"
    assert settings.warehouse_uri == "s3://rainforest/lakehouse"
    assert settings.s3_endpoint == "http://127.0.0.1:9000"
    assert settings.spark_event_log_dir == (state_dir / "stack" / "spark-events").as_uri()
    assert settings.storage_options()["AWS_SECRET_ACCESS_KEY"] == "stack-secret"
    assert "stack-secret" not in repr(settings)


def test_ports_follow_the_stack_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAINFOREST_STACK_MASTER_PORT", "17077")
    monkeypatch.setenv("RAINFOREST_STACK_S3_PORT", "19000")

    settings = get_settings()

    assert settings.spark_master == "spark://127.0.0.1:17077"
    assert settings.s3_endpoint == "http://127.0.0.1:19000"


def test_explicit_values_win(monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    _write_stack_credentials(state_dir)
    monkeypatch.setenv("RAINFOREST_SPARK_MASTER", "spark://spark-master:7077")
    monkeypatch.setenv("RAINFOREST_WAREHOUSE", "s3://other/lake")
    monkeypatch.setenv("RAINFOREST_S3_ENDPOINT", "http://minio:9000")
    monkeypatch.setenv("RAINFOREST_SPARK_EVENT_LOG_DIR", "file:///spark-events")

    settings = get_settings()

    assert settings.spark_master == "spark://spark-master:7077"
    assert settings.warehouse_uri == "s3://other/lake"
    assert settings.s3_endpoint == "http://minio:9000"
    assert settings.spark_event_log_dir == "file:///spark-events"
    assert settings.s3_access_key_id is None, "the stack's credentials are for the stack only"


def test_without_the_stack_the_error_says_to_start_it() -> None:
    with pytest.raises(ConfigError, match="rainforest stack up"):
        get_settings().storage_options()


def test_cluster_sessions_size_executors_to_the_workers_and_log_events() -> None:
    conf = spark_conf(get_settings())

    assert conf["spark.executor.cores"] == "1"
    assert conf["spark.executor.memory"] == "2g"
    assert conf["spark.eventLog.enabled"] == "true"
    assert conf["spark.driver.host"] == "127.0.0.1"


def test_local_profile_is_untouched(monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    _write_stack_credentials(state_dir)
    monkeypatch.setenv("RAINFOREST_PROFILE", "local")

    settings = get_settings()
    conf = spark_conf(settings)

    assert settings.spark_master == "local[*]"
    assert settings.warehouse_is_local
    assert settings.s3_endpoint is None and settings.s3_access_key_id is None
    assert "spark.executor.memory" not in conf and "spark.eventLog.enabled" not in conf
