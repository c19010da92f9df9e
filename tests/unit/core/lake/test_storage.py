"""How storage settings travel to Spark's Python workers without exposing the credentials."""

from __future__ import annotations

import re

from pyarrow import fs

from etl.core.errors import ServiceUnavailableError
from etl.core.lake.storage import Storage, explained, local_path
from etl.core.settings import Settings

# Spark's default `spark.redaction.regex`: options whose names match are masked in plans and UIs.
SPARK_REDACTION = re.compile(r"(?i)secret|password|token|access[.]?key")
SECRET = "s3cr3t-value"


def _settings() -> Settings:
    return Settings(
        warehouse="s3://bucket/lake",
        s3_endpoint="http://127.0.0.1:9000",
        s3_access_key_id="key-id",
        s3_secret_access_key=SECRET,
        s3_region="eu-west-1",
        s3_path_style=True,
        s3_allow_http=True,
    )


def test_storage_survives_the_trip_through_options() -> None:
    storage = Storage.from_settings(_settings())
    assert Storage.from_options(storage.to_options()) == storage


def test_credential_options_match_sparks_redaction_pattern() -> None:
    options = Storage.from_settings(_settings()).to_options()
    for name, value in options.items():
        if value in (SECRET, "key-id"):
            assert SPARK_REDACTION.search(name), name


def test_repr_hides_credentials() -> None:
    shown = repr(Storage.from_settings(_settings()))
    assert SECRET not in shown
    assert "key-id" not in shown


def test_delta_options_use_the_settings_vocabulary() -> None:
    settings = _settings()
    storage = Storage.from_settings(settings)
    assert storage.delta_options(settings.warehouse_uri) == settings.storage_options()
    assert storage.delta_options("file:///tmp/lake") == {}


def test_filesystems_and_paths() -> None:
    storage = Storage.from_settings(_settings())
    filesystem, path = storage.filesystem("s3://bucket/lake/silver/orders/")
    assert isinstance(filesystem, fs.S3FileSystem)
    assert path == "bucket/lake/silver/orders"
    filesystem, path = storage.filesystem("file:///tmp/a%20b/t")
    assert isinstance(filesystem, fs.LocalFileSystem)
    assert path == local_path("file:///tmp/a%20b/t") == "/tmp/a b/t"


def test_an_s3_server_that_does_not_answer_is_named_with_the_setting_to_check() -> None:
    storage = Storage(endpoint="http://127.0.0.1:8333", access_key_id="k", secret_access_key="s")
    error = OSError("Generic S3 error\n  tcp connect error\n  Connection refused (os error 111)")

    explanation = explained(storage, "s3://lake/silver/orders", error)

    assert isinstance(explanation, ServiceUnavailableError)
    assert str(explanation) == (
        "Cannot reach the S3 endpoint http://127.0.0.1:8333 for s3://lake/silver/orders "
        "(connection refused): check that the server runs and that RAINFOREST_S3_ENDPOINT "
        "points at it."
    )
    assert explained(storage, "file:///lake/silver/orders", error) is None
    assert explained(storage, "s3://lake/silver/orders", OSError("disk full")) is None
