"""One settings object for the whole project, read from the environment and an optional `.env`.

Every other module takes its configuration from here, so that a deployment changes
environment variables, never code. Secrets are `SecretStr`: they print as `**********`
and never reach logs; only the code that opens a connection unwraps them.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from etl.core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]

STACK_HOST = "127.0.0.1"
STACK_BUCKET = "rainforest"
CLUSTER_WAREHOUSE = f"s3://{STACK_BUCKET}/lakehouse"
STACK_CREDENTIALS_FILE = "s3-credentials.json"


def stack_dir(state_dir: Path) -> Path:
    """The native stack's pid files, logs, event logs and generated S3 credentials."""
    return state_dir / "stack"


def stack_event_log_dir(state_dir: Path) -> Path:
    """Where cluster runs write event logs and the stack's history server reads them."""
    return (stack_dir(state_dir) / "spark-events").resolve()


class Settings(BaseSettings):
    """Project configuration; each field is the environment variable `RAINFOREST_<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix="RAINFOREST_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    profile: Literal["local", "cluster"] = "local"
    warehouse: str = Field(
        default=str(PROJECT_ROOT / "lakehouse"),
        description="Warehouse root: a local folder, file:// URI or s3://bucket/prefix.",
    )
    state_dir: Path = Field(
        default=PROJECT_ROOT / ".rainforest",
        description="Git-ignored folder for local service state: Postgres data, pids, logs.",
    )

    s3_endpoint: str | None = None
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str = "us-east-1"
    s3_path_style: bool = True
    s3_allow_http: bool = True

    spark_master: str = "local[*]"
    spark_shuffle_partitions: int = Field(default=8, ge=1)
    spark_ui: bool = False
    spark_driver_memory: str = "4g"
    spark_event_log_dir: str | None = None

    stack_master_port: int = Field(default=7077, ge=1, le=65535)
    stack_master_ui_port: int = Field(default=8080, ge=1, le=65535)
    stack_worker_ui_port: int = Field(
        default=8081, ge=1, le=65534, description="The first worker's UI; the second's is next."
    )
    stack_history_port: int = Field(default=18080, ge=1, le=65535)
    stack_s3_port: int = Field(default=9000, ge=1, le=65535)
    stack_worker_cores: int = Field(default=1, ge=1)
    stack_worker_memory: str = Field(
        default="2g", description="Memory each worker offers, which is each executor's heap."
    )

    pg_dsn: SecretStr | None = Field(
        default=None,
        description="libpq DSN of the upstream database; unset means the project's local server.",
    )
    pg_port: int = Field(default=54329, ge=1, le=65535)
    jdbc_jar: Path = Path("/usr/share/java/postgresql.jar")

    @model_validator(mode="before")
    @classmethod
    def _cluster_profile_defaults(cls, data: Any) -> Any:
        """With `profile=cluster`, whatever the user did not set points at the native stack
        (`rainforest stack up`): its master, its bucket and endpoint with the credentials it
        generated, and event logs where its history server reads them."""
        if not isinstance(data, dict) or data.get("profile") != "cluster":
            return data
        fields = cls.model_fields
        state_dir = Path(data.get("state_dir") or fields["state_dir"].default)
        master_port = data.get("stack_master_port", fields["stack_master_port"].default)
        s3_port = data.get("stack_s3_port", fields["stack_s3_port"].default)
        values = dict(data)
        values.setdefault("spark_master", f"spark://{STACK_HOST}:{master_port}")
        values.setdefault("warehouse", CLUSTER_WAREHOUSE)
        values.setdefault("spark_event_log_dir", stack_event_log_dir(state_dir).as_uri())
        if "s3_endpoint" not in data:
            values["s3_endpoint"] = f"http://{STACK_HOST}:{s3_port}"
            credentials = read_stack_credentials(state_dir)
            if credentials and not (
                data.get("s3_access_key_id") or data.get("s3_secret_access_key")
            ):
                values["s3_access_key_id"], values["s3_secret_access_key"] = credentials
        return values

    @field_validator("warehouse")
    @classmethod
    def _warehouse_is_supported(cls, value: str) -> str:
        scheme = urlparse(value).scheme
        if scheme not in ("", "file", "s3", "s3a"):
            raise ValueError(
                f"RAINFOREST_WAREHOUSE={value!r}: use a folder, a file:// URI or s3://bucket/prefix"
            )
        return value

    @cached_property
    def warehouse_uri(self) -> str:
        """The warehouse as a URI that delta-rs and pyarrow both accept (`file:///...` or `s3://...`)."""
        parsed = urlparse(self.warehouse)
        if parsed.scheme in ("s3", "s3a"):
            return f"s3://{parsed.netloc}{parsed.path}".rstrip("/")
        path = Path(parsed.path if parsed.scheme == "file" else self.warehouse).expanduser()
        if not path.is_absolute():
            path = PROJECT_ROOT / path
        return path.resolve().as_uri()

    @property
    def warehouse_is_local(self) -> bool:
        return self.warehouse_uri.startswith("file://")

    def table_uri(self, layer: str, name: str) -> str:
        """Where a table lives: `<warehouse>/<layer>/<name>`."""
        return f"{self.warehouse_uri}/{layer}/{name}"

    def storage_options(self) -> dict[str, str]:
        """Object-store options in delta-rs's vocabulary; empty for a local warehouse.

        Holds the S3 secret, so it must only ever be passed to a client, never logged.
        """
        if self.warehouse_is_local:
            return {}
        if not (self.s3_access_key_id and self.s3_secret_access_key):
            stack_hint = (
                ", or start the native stack with `rainforest stack up`, which creates them"
                if self.profile == "cluster"
                else ""
            )
            raise ConfigError(
                f"The warehouse {self.warehouse_uri} is on S3 but no credentials are set: "
                "export RAINFOREST_S3_ACCESS_KEY_ID and RAINFOREST_S3_SECRET_ACCESS_KEY "
                f"(or put them in .env){stack_hint}."
            )
        options = {
            "AWS_ACCESS_KEY_ID": self.s3_access_key_id.get_secret_value(),
            "AWS_SECRET_ACCESS_KEY": self.s3_secret_access_key.get_secret_value(),
            "AWS_REGION": self.s3_region,
            "AWS_ALLOW_HTTP": str(self.s3_allow_http).lower(),
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": str(not self.s3_path_style).lower(),
            "AWS_S3_ALLOW_UNSAFE_RENAME": "false",
            "conditional_put": "etag",
        }
        if self.s3_endpoint:
            options["AWS_ENDPOINT_URL"] = self.s3_endpoint
        return options


def read_stack_credentials(state_dir: Path) -> tuple[str, str] | None:
    """The S3 key id and secret `rainforest stack up` generated for this state folder, if any."""
    try:
        stored = json.loads((stack_dir(state_dir) / STACK_CREDENTIALS_FILE).read_text())
        return str(stored["access_key_id"]), str(stored["secret_access_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def get_settings() -> Settings:
    """Settings as the environment says now (not cached: tests and the CLI change it)."""
    try:
        return Settings()
    except ValueError as error:
        raise ConfigError(f"Invalid configuration: {error}") from error
