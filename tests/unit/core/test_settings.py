"""Settings: defaults, environment and `.env` overrides, warehouse URIs, and secret masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.core.errors import ConfigError
from etl.core.settings import PROJECT_ROOT, Settings

REPO_ROOT = Path(__file__).resolve().parents[3]
SECRETS = {
    "RAINFOREST_S3_ACCESS_KEY_ID": "AKIA-TEST-KEY-ID",
    "RAINFOREST_S3_SECRET_ACCESS_KEY": "s3-very-secret-value",
}


pytestmark = pytest.mark.usefixtures("clean_environment")


def test_project_root_is_the_repository() -> None:
    assert REPO_ROOT == PROJECT_ROOT


def test_defaults() -> None:
    settings = Settings.load()

    assert settings.spark_master == "local[*]"
    assert settings.warehouse_uri == (REPO_ROOT / "lakehouse").as_uri()
    assert settings.warehouse_uri.startswith("file:///")
    assert settings.warehouse_is_local
    assert settings.storage_options() == {}
    assert settings.s3_access_key_id is None
    assert settings.spark_executor_cores is None and settings.spark_executor_memory is None
    assert settings.incremental_min_rows == 100_000


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAINFOREST_SPARK_MASTER", "spark://spark-master:7077")
    monkeypatch.setenv("RAINFOREST_SPARK_SHUFFLE_PARTITIONS", "64")
    monkeypatch.setenv("RAINFOREST_SPARK_UI", "true")
    monkeypatch.setenv("SPARK_MASTER", "local[1]")  # unprefixed: must be ignored

    settings = Settings.load()

    assert settings.spark_master == "spark://spark-master:7077"
    assert settings.spark_shuffle_partitions == 64
    assert settings.spark_ui is True


def test_dotenv_in_working_folder_is_read(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    (clean_environment / ".env").write_text(
        "RAINFOREST_SPARK_MASTER=local[3]\nRAINFOREST_SPARK_SHUFFLE_PARTITIONS=6\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("RAINFOREST_SPARK_SHUFFLE_PARTITIONS", "7")

    settings = Settings.load()

    assert settings.spark_master == "local[3]"
    assert settings.spark_shuffle_partitions == 7, "an environment variable wins over .env"


def test_relative_warehouse_is_resolved_against_project_root(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    monkeypatch.setenv("RAINFOREST_WAREHOUSE", "data/lake")

    settings = Settings.load()

    assert settings.warehouse_uri == (REPO_ROOT / "data" / "lake").as_uri()
    assert str(clean_environment) not in settings.warehouse_uri, "not relative to the cwd"


def test_file_uri_and_absolute_folder_give_the_same_warehouse(tmp_path: Path) -> None:
    folder = tmp_path / "lake"

    by_uri = Settings(warehouse=folder.as_uri())
    by_path = Settings(warehouse=str(folder))

    assert by_uri.warehouse_uri == by_path.warehouse_uri == folder.as_uri()
    assert by_uri.table_uri("silver", "orders") == f"{folder.as_uri()}/silver/orders"


@pytest.mark.parametrize("warehouse", ["s3://rainforest/lakehouse/", "s3a://rainforest/lakehouse"])
def test_s3_warehouse(monkeypatch: pytest.MonkeyPatch, warehouse: str) -> None:
    monkeypatch.setenv("RAINFOREST_WAREHOUSE", warehouse)

    settings = Settings.load()

    assert settings.warehouse_uri == "s3://rainforest/lakehouse"
    assert not settings.warehouse_is_local
    assert settings.table_uri("bronze", "orders") == "s3://rainforest/lakehouse/bronze/orders"


@pytest.mark.parametrize("warehouse", ["http://example.com/lake", "gs://bucket/lake", "hdfs:///x"])
def test_unsupported_warehouse_scheme_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, warehouse: str
) -> None:
    monkeypatch.setenv("RAINFOREST_WAREHOUSE", warehouse)

    with pytest.raises(ConfigError, match="RAINFOREST_WAREHOUSE") as caught:
        Settings.load()

    assert "s3://bucket/prefix" in str(caught.value), "the message says what is accepted"


def test_invalid_number_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAINFOREST_SPARK_SHUFFLE_PARTITIONS", "0")

    with pytest.raises(ConfigError, match="spark_shuffle_partitions"):
        Settings.load()


@pytest.mark.parametrize("key_id", [None, "AKIA-ONLY-THE-KEY-ID"])
def test_s3_storage_options_without_credentials(
    monkeypatch: pytest.MonkeyPatch, key_id: str | None
) -> None:
    monkeypatch.setenv("RAINFOREST_WAREHOUSE", "s3://rainforest/lakehouse")
    if key_id is not None:
        monkeypatch.setenv("RAINFOREST_S3_ACCESS_KEY_ID", key_id)
    settings = Settings.load()

    with pytest.raises(ConfigError) as caught:
        settings.storage_options()

    message = str(caught.value)
    assert "RAINFOREST_S3_ACCESS_KEY_ID" in message
    assert "RAINFOREST_S3_SECRET_ACCESS_KEY" in message
    assert "s3://rainforest/lakehouse" in message


def test_s3_storage_options_with_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RAINFOREST_WAREHOUSE", "s3://rainforest/lakehouse")
    monkeypatch.setenv("RAINFOREST_S3_ENDPOINT", "http://127.0.0.1:9000")

    options = Settings.load().storage_options()

    assert options["AWS_ACCESS_KEY_ID"] == SECRETS["RAINFOREST_S3_ACCESS_KEY_ID"]
    assert options["AWS_SECRET_ACCESS_KEY"] == SECRETS["RAINFOREST_S3_SECRET_ACCESS_KEY"]
    assert options["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9000"
    assert options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] == "false"


def test_settings_are_frozen() -> None:
    settings = Settings.load()

    with pytest.raises(ValueError, match="frozen"):
        settings.spark_master = "local[1]"  # type: ignore[misc]
