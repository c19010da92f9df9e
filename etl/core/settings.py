"""The framework's settings: where the lake is, how to reach it, and how Spark runs.

Read from the environment (`RAINFOREST_<FIELD>`) and an optional `.env`, so that a deployment
changes environment variables, never code. Secrets are `SecretStr`: they print as `**********`
and never reach logs; only the code that opens a connection unwraps them. Settings of the
services a deployment runs (the local Postgres, the native stack) extend these in
`etl.services.settings`.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Self
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from etl.core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Framework configuration; each field is the environment variable `RAINFOREST_<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix="RAINFOREST_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    warehouse: str = Field(
        default=str(PROJECT_ROOT / "lakehouse"),
        description="Warehouse root: a local folder, file:// URI or s3://bucket/prefix.",
    )
    state_dir: Path = Field(
        default=PROJECT_ROOT / ".rainforest",
        description="Git-ignored folder for local state: Data Docs of an S3 lake, service data.",
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
    spark_executor_cores: int | None = Field(
        default=None, ge=1, description="Cores per executor on a cluster; unset: Spark's default."
    )
    spark_executor_memory: str | None = Field(
        default=None, description="Heap per executor on a cluster; unset: Spark's default."
    )
    spark_jit_c1_only: bool = Field(
        default=True,
        description=(
            "Compile Spark's JVM code with the quick C1 compiler only: a run's many short jobs "
            "gain less from C2's code than C2 costs to compile; turn off for long jobs on large "
            "data."
        ),
    )
    spark_class_archive: bool = Field(
        default=True,
        description=(
            "Start the driver's JVM from a class archive the first run writes under `state_dir` "
            "(Java's class data sharing): sessions start in about half the time."
        ),
    )
    spark_local_files_in_process: bool = Field(
        default=True,
        description=(
            "With a local master, Spark's local files get their permissions from Java instead "
            "of a `chmod` process each (compiled on first use; needs a JDK's `javac`)."
        ),
    )

    threads: int | None = Field(
        default=None,
        ge=1,
        description="Tables a run builds at once; unset: the cores Spark has (`--threads`).",
    )
    upstream_connections: int = Field(
        default=8,
        ge=1,
        description=(
            "Connections a run opens to the upstream database at most: each source table "
            "reads over up to one connection per Spark core, so this many divided by the "
            "cores extract at once (at least one)."
        ),
    )

    incremental_min_rows: int = Field(
        default=100_000,
        ge=0,
        description=(
            "Input rows below which an incremental table is rebuilt whole instead of traced: "
            "tracing and replacing cost a few seconds of Spark jobs whatever the change, more "
            "than recomputing a small table. 0 traces every table."
        ),
    )

    retry_attempts: int = Field(
        default=3,
        ge=1,
        description=(
            "Attempts at a table's build when it fails for a transient reason (a database or "
            "object store that does not answer, a reset connection, throttling, a Delta commit "
            "conflict); 1 never retries."
        ),
    )
    retry_wait_s: float = Field(
        default=2.0,
        ge=0,
        description="Wait before the first retry; it doubles each time, with jitter.",
    )
    retry_max_wait_s: float = Field(default=30.0, ge=0, description="The longest wait.")

    lock_stale_after_s: float = Field(
        default=600.0,
        gt=0,
        description=(
            "Seconds after which a warehouse lock whose holder stopped renewing it (killed, "
            "machine gone) is taken over; a holder renews it every quarter of this."
        ),
    )

    jdbc_jar: Path = Path("/usr/share/java/postgresql.jar")

    @classmethod
    def load(cls) -> Self:
        """Settings as the environment says now (not cached: tests and the CLI change it)."""
        try:
            return cls()
        except ValidationError as error:
            raise ConfigError(f"Invalid configuration: {error}") from error

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
            raise ConfigError(
                f"The warehouse {self.warehouse_uri} is on S3 but no credentials are set: "
                "export RAINFOREST_S3_ACCESS_KEY_ID and RAINFOREST_S3_SECRET_ACCESS_KEY "
                "(or put them in .env)."
            )
        options = {
            "AWS_ACCESS_KEY_ID": self.s3_access_key_id.get_secret_value(),
            "AWS_SECRET_ACCESS_KEY": self.s3_secret_access_key.get_secret_value(),
            "AWS_REGION": self.s3_region,
            "AWS_ALLOW_HTTP": str(self.s3_allow_http).lower(),
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": str(not self.s3_path_style).lower(),
            "AWS_S3_ALLOW_UNSAFE_RENAME": "false",
            "conditional_put": "etag",
            # delta-rs retries each request 10 times over up to 3 minutes by default: a server
            # that is down then holds every table for seconds per request. A few quick retries
            # ride out a blip; a longer outage is the build's to retry (`retry_attempts`).
            "max_retries": "3",
            "retry_timeout": "30s",
        }
        if self.s3_endpoint:
            options["AWS_ENDPOINT_URL"] = self.s3_endpoint
        return options
