"""Service settings: the cluster profile's defaults that point at the native stack unless set
explicitly, and the upstream database's secret kept out of everything printable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl.core.errors import ConfigError
from etl.core.session import C1_ONLY, spark_conf
from etl.core.settings import Settings
from etl.services.settings import STACK_CREDENTIALS_FILE, ServiceSettings, stack_dir

SECRETS = {
    "RAINFOREST_S3_ACCESS_KEY_ID": "AKIA-TEST-KEY-ID",
    "RAINFOREST_S3_SECRET_ACCESS_KEY": "s3-very-secret-value",
    "RAINFOREST_PG_DSN": "postgresql://etl:pg-very-secret@db.internal:5432/shop",
}


@pytest.fixture(autouse=True)
def state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_environment: Path) -> Path:
    """The cluster profile in a clean environment, with a state folder of its own."""
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

    settings = ServiceSettings.load()

    assert settings.spark_master == "spark://127.0.0.1:7077"
    assert settings.warehouse_uri == "s3://rainforest/lakehouse"
    assert settings.s3_endpoint == "http://127.0.0.1:9000"
    assert settings.spark_event_log_dir == (state_dir / "stack" / "spark-events").as_uri()
    assert settings.storage_options()["AWS_SECRET_ACCESS_KEY"] == "stack-secret"
    assert "stack-secret" not in repr(settings)


def test_ports_follow_the_stack_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAINFOREST_STACK_MASTER_PORT", "17077")
    monkeypatch.setenv("RAINFOREST_STACK_S3_PORT", "19000")

    settings = ServiceSettings.load()

    assert settings.spark_master == "spark://127.0.0.1:17077"
    assert settings.s3_endpoint == "http://127.0.0.1:19000"


def test_explicit_values_win(monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    _write_stack_credentials(state_dir)
    monkeypatch.setenv("RAINFOREST_SPARK_MASTER", "spark://spark-master:7077")
    monkeypatch.setenv("RAINFOREST_WAREHOUSE", "s3://other/lake")
    monkeypatch.setenv("RAINFOREST_S3_ENDPOINT", "http://minio:9000")
    monkeypatch.setenv("RAINFOREST_SPARK_EVENT_LOG_DIR", "file:///spark-events")

    settings = ServiceSettings.load()

    assert settings.spark_master == "spark://spark-master:7077"
    assert settings.warehouse_uri == "s3://other/lake"
    assert settings.s3_endpoint == "http://minio:9000"
    assert settings.spark_event_log_dir == "file:///spark-events"
    assert settings.s3_access_key_id is None, "the stack's credentials are for the stack only"


def test_without_the_stack_the_error_says_to_start_it() -> None:
    with pytest.raises(ConfigError, match="rainforest stack up"):
        ServiceSettings.load().storage_options()


def test_cluster_sessions_size_executors_to_the_workers_and_log_events() -> None:
    conf = spark_conf(ServiceSettings.load())

    assert conf["spark.executor.cores"] == "1"
    assert conf["spark.executor.memory"] == "2g"
    assert "spark.executor.cores" not in spark_conf(Settings.load()), "only the profile sizes them"
    assert conf["spark.eventLog.enabled"] == "true"
    assert conf["spark.driver.host"] == "127.0.0.1"


def test_jvms_compile_with_c1_only_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = spark_conf(ServiceSettings.load())
    assert cluster["spark.executor.extraJavaOptions"] == C1_ONLY
    assert cluster["spark.driver.extraJavaOptions"].endswith(C1_ONLY)
    assert spark_conf(Settings.load())["spark.driver.extraJavaOptions"].endswith(C1_ONLY)
    assert "-XX:ReservedCodeCacheSize=256m" in C1_ONLY

    monkeypatch.setenv("RAINFOREST_SPARK_JIT_C1_ONLY", "false")
    assert "spark.executor.extraJavaOptions" not in spark_conf(ServiceSettings.load())
    assert C1_ONLY not in spark_conf(Settings.load())["spark.driver.extraJavaOptions"]


def test_local_profile_is_untouched(monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    _write_stack_credentials(state_dir)
    monkeypatch.setenv("RAINFOREST_PROFILE", "local")

    settings = ServiceSettings.load()
    conf = spark_conf(settings)

    assert settings.spark_master == "local[*]"
    assert settings.warehouse_is_local
    assert settings.s3_endpoint is None and settings.s3_access_key_id is None
    assert "spark.executor.memory" not in conf and "spark.eventLog.enabled" not in conf


def test_secrets_are_masked_everywhere_they_could_be_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAINFOREST_PROFILE", "local")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = ServiceSettings.load()
    assert settings.pg_dsn is not None
    assert settings.pg_dsn.get_secret_value() == SECRETS["RAINFOREST_PG_DSN"], "secret was loaded"

    for shown in (repr(settings), str(settings), settings.model_dump_json(), f"{settings}"):
        for secret in SECRETS.values():
            assert secret not in shown
        assert "**********" in shown


def test_config_error_does_not_echo_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RAINFOREST_WAREHOUSE", "ftp://nowhere")

    with pytest.raises(ConfigError) as caught:
        ServiceSettings.load()

    for secret in SECRETS.values():
        assert secret not in str(caught.value)


def test_defaults_run_locally_against_the_local_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAINFOREST_PROFILE")

    settings = ServiceSettings.load()

    assert settings.profile == "local"
    assert settings.pg_dsn is None
    assert settings.pg_port == 54329
    assert settings.spark_master == "local[*]"
