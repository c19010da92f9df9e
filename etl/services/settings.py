"""Settings of the services a deployment runs, on top of the framework's `Settings`.

The framework (`etl.core.settings.Settings`) knows a lake, S3 and a Spark master. This adds
what only this project's own services need: the upstream database (`RAINFOREST_PG_DSN`, or the
local server's port), the native stack's ports and sizes, and the `cluster` profile, which
points a run at that stack. The CLI, tests and benchmarks load `ServiceSettings`; everything
in `etl.core` sees them as plain `Settings`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from etl.core.errors import ConfigError
from etl.core.settings import Settings

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


class ServiceSettings(Settings):
    """The framework's settings plus the project's services; same `RAINFOREST_` variables."""

    profile: Literal["local", "cluster"] = "local"

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

    @model_validator(mode="before")
    @classmethod
    def _cluster_profile_defaults(cls, data: Any) -> Any:
        """With `profile=cluster`, whatever the user did not set points at the native stack
        (`rainforest stack up`): its master, one executor per worker as large as the worker,
        its bucket and endpoint with the credentials it generated, and event logs where its
        history server reads them."""
        if not isinstance(data, dict) or data.get("profile") != "cluster":
            return data
        fields = cls.model_fields
        state_dir = Path(data.get("state_dir") or fields["state_dir"].default)
        master_port = data.get("stack_master_port", fields["stack_master_port"].default)
        s3_port = data.get("stack_s3_port", fields["stack_s3_port"].default)
        values = dict(data)
        values.setdefault("spark_master", f"spark://{STACK_HOST}:{master_port}")
        values.setdefault(
            "spark_executor_cores",
            data.get("stack_worker_cores", fields["stack_worker_cores"].default),
        )
        values.setdefault(
            "spark_executor_memory",
            data.get("stack_worker_memory", fields["stack_worker_memory"].default),
        )
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

    def storage_options(self) -> dict[str, str]:
        """As the framework's, with the way to get credentials on the cluster profile."""
        try:
            return super().storage_options()
        except ConfigError as error:
            if self.profile != "cluster":
                raise
            raise ConfigError(
                f"{str(error).rstrip('.')}, or start the native stack with "
                "`rainforest stack up`, which creates them."
            ) from None


def read_stack_credentials(state_dir: Path) -> tuple[str, str] | None:
    """The S3 key id and secret `rainforest stack up` generated for this state folder, if any."""
    try:
        stored = json.loads((stack_dir(state_dir) / STACK_CREDENTIALS_FILE).read_text())
        return str(stored["access_key_id"]), str(stored["secret_access_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
