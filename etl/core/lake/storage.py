"""Where a table's bytes live, as a small picklable value that executors can rebuild clients from.

`Settings` cannot travel to executors as-is (it re-reads the environment when built), so the
driver reduces it to a `Storage`, passes it to the data source as options whose names match
Spark's redaction pattern (`secret`, `access.key`), and every process rebuilds its pyarrow
filesystem and delta-rs options from that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote, urlparse

from pyarrow import fs
from pydantic import SecretStr

from etl.core.errors import ConfigError, RainforestError, ServiceUnavailableError
from etl.core.settings import Settings

_OPTION_PREFIX = "lake.s3."
# Option names for the credentials; `access.key` and `secret` are in Spark's default
# `spark.redaction.regex`, so Spark masks them wherever it prints options.
_KEY_ID_OPTION = _OPTION_PREFIX + "access.key.id"
_SECRET_OPTION = _OPTION_PREFIX + "secret.access.key"
# How delta-rs, pyarrow and Spark word an S3 server's refusal of the credentials.
_REFUSED_MARKERS = (
    "403 Forbidden",
    "lacked the necessary privileges",
    "SIGNATURE_DOES_NOT_MATCH",
    "SignatureDoesNotMatch",
    "INVALID_ACCESS_KEY_ID",
    "InvalidAccessKeyId",
    "ACCESS_DENIED",
    "AccessDenied",
)


@dataclass(frozen=True, kw_only=True)
class Storage:
    """S3 connection details (unused for local tables); credentials stay out of `repr`."""

    endpoint: str | None = None
    region: str = "us-east-1"
    path_style: bool = True
    allow_http: bool = True
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Storage:
        return cls(
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            path_style=settings.s3_path_style,
            allow_http=settings.s3_allow_http,
            access_key_id=_unwrap(settings.s3_access_key_id),
            secret_access_key=_unwrap(settings.s3_secret_access_key),
        )

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> Storage:
        """What `to_options` encoded, or the environment's settings for a bare
        `spark.read.format("rainforest_delta").load(uri)` (catalog tables, ad-hoc reads)."""
        lowered = {key.lower(): value for key, value in options.items()}
        if not any(key.startswith(_OPTION_PREFIX) for key in lowered):
            return cls.from_settings(Settings.load())
        return cls(
            endpoint=lowered.get(_OPTION_PREFIX + "endpoint") or None,
            region=lowered.get(_OPTION_PREFIX + "region", "us-east-1"),
            path_style=lowered.get(_OPTION_PREFIX + "path.style", "true") == "true",
            allow_http=lowered.get(_OPTION_PREFIX + "allow.http", "true") == "true",
            access_key_id=lowered.get(_KEY_ID_OPTION) or None,
            secret_access_key=lowered.get(_SECRET_OPTION) or None,
        )

    def to_options(self) -> dict[str, str]:
        return {
            _OPTION_PREFIX + "endpoint": self.endpoint or "",
            _OPTION_PREFIX + "region": self.region,
            _OPTION_PREFIX + "path.style": str(self.path_style).lower(),
            _OPTION_PREFIX + "allow.http": str(self.allow_http).lower(),
            _KEY_ID_OPTION: self.access_key_id or "",
            _SECRET_OPTION: self.secret_access_key or "",
        }

    def delta_options(self, uri: str) -> dict[str, str]:
        """delta-rs storage options for `uri`, in the one vocabulary `Settings` defines."""
        if is_local(uri):
            return {}
        return Settings(
            warehouse=uri,
            s3_endpoint=self.endpoint,
            s3_region=self.region,
            s3_path_style=self.path_style,
            s3_allow_http=self.allow_http,
            s3_access_key_id=self.access_key_id,
            s3_secret_access_key=self.secret_access_key,
        ).storage_options()

    def filesystem(self, uri: str) -> tuple[fs.FileSystem, str]:
        """A pyarrow filesystem and the path of `uri` inside it (no trailing slash)."""
        parsed = urlparse(uri)
        if is_local(uri):
            return fs.LocalFileSystem(), local_path(uri)
        return _s3_filesystem(self), f"{parsed.netloc}{parsed.path}".rstrip("/")


def is_local(uri: str) -> bool:
    return urlparse(uri).scheme in ("", "file")


def local_path(uri: str) -> str:
    """The filesystem path of a `file://` URI (or of a plain path)."""
    parsed = urlparse(uri)
    return (unquote(parsed.path) if parsed.scheme == "file" else uri).rstrip("/")


@lru_cache(maxsize=8)
def _s3_filesystem(storage: Storage) -> fs.S3FileSystem:
    # One client per process and configuration: building one resolves endpoints and threads.
    endpoint = urlparse(storage.endpoint) if storage.endpoint else None
    return fs.S3FileSystem(
        access_key=storage.access_key_id,
        secret_key=storage.secret_access_key,
        region=storage.region,
        endpoint_override=endpoint.netloc if endpoint else None,
        scheme=endpoint.scheme if endpoint else "https",
        force_virtual_addressing=not storage.path_style,
    )


_UNREACHABLE_MARKERS = (
    "connection refused",
    "connection reset",
    "tcp connect error",
    "network_connection",
    "couldn't connect to server",
    "timed out",
    "service unavailable",
)
"""How delta-rs (object_store), pyarrow (the AWS SDK) and Spark word an S3 server that does
not answer, lower-cased."""


def _unwrap(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def explained(storage: Storage, uri: str, error: BaseException) -> RainforestError | None:
    """The error to show when the S3 server refused the credentials behind `error`, or could
    not be reached; None for any other error. The client's own words (a signature mismatch,
    a 403, ten retries of a TCP connect) do not say which setting to check."""
    if is_local(uri):
        return None
    text = str(error)
    if any(marker in text for marker in _REFUSED_MARKERS):
        return ConfigError(
            f"The S3 endpoint {storage.endpoint or 'of AWS'} refused the credentials for {uri}: "
            "check RAINFOREST_S3_ACCESS_KEY_ID and RAINFOREST_S3_SECRET_ACCESS_KEY (and "
            "RAINFOREST_S3_ENDPOINT)."
        )
    lowered = text.lower()
    reason = next((marker for marker in _UNREACHABLE_MARKERS if marker in lowered), None)
    if reason is None:
        return None
    return ServiceUnavailableError(
        f"Cannot reach the S3 endpoint {storage.endpoint or 'of AWS'} for {uri} ({reason}): "
        "check that the server runs and that RAINFOREST_S3_ENDPOINT points at it."
    )
