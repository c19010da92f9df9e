"""The local server's lifecycle, its port fallback, and DSN resolution."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from typer.testing import CliRunner

from etl.cli.db import app
from etl.core.errors import ServiceUnavailableError
from etl.services.postgres import LocalPostgres, mask_dsn
from etl.services.settings import ServiceSettings
from tests.fixtures.postgres import own_state_dir, server_settings

UNREACHABLE_DSN = "postgresql://app:s3cret@127.0.0.1:1/shop"


@pytest.fixture
def state_dir() -> Iterator[Path]:
    with own_state_dir() as path:
        yield path


@pytest.fixture
def server(state_dir: Path) -> Iterator[LocalPostgres]:
    """A server of the test's own, stopped afterwards whatever the test did."""
    local = LocalPostgres(server_settings(state_dir))
    yield local
    local.down()


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def query(dsn: str, statement: str) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@pytest.mark.postgres
def test_up_twice_is_harmless(server: LocalPostgres) -> None:
    dsn = server.up()
    pid = server.status().pid
    assert server.up() == dsn
    assert server.status().pid == pid
    assert query(dsn, "SELECT current_database(), current_user") == [("rainforest", "rainforest")]


@pytest.mark.postgres
def test_down_then_up_keeps_the_data(server: LocalPostgres) -> None:
    dsn = server.up()
    query(dsn, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
    assert server.down() is True
    assert not server.status().running
    assert server.down() is False
    assert query(server.up(), "SELECT x FROM kept") == [(42,)]


@pytest.mark.postgres
def test_a_busy_port_falls_back_to_a_remembered_free_one(state_dir: Path, busy_port: int) -> None:
    server = LocalPostgres(server_settings(state_dir, port=busy_port))
    try:
        dsn = server.up()
        port = server.status().port
        assert port != busy_port
        assert server.port_file.read_text().strip() == str(port)
        assert query(dsn, "SELECT 1") == [(1,)]
        server.down()
        assert server.up() == dsn, "the DSN stays stable while the conflict lasts"
    finally:
        server.down()


@pytest.mark.postgres
def test_status_and_dsn_follow_the_server(server: LocalPostgres) -> None:
    stopped = server.status()
    assert (stopped.running, stopped.dsn, stopped.pid) == (False, None, None)
    assert stopped.data_dir == server.data_dir
    with pytest.raises(ServiceUnavailableError, match="rainforest db up"):
        server.dsn()

    dsn = server.up()
    running = server.status()
    assert running.running and not running.external
    assert running.dsn == dsn == server.dsn()
    assert running.dsn == f"postgresql://rainforest@127.0.0.1:{running.port}/rainforest"
    assert running.pid and running.log_file and running.log_file.exists()


@pytest.mark.postgres
def test_down_leaves_other_servers_alone(tmp_path: Path, postgres_dsn: str) -> None:
    assert LocalPostgres(server_settings(tmp_path)).down() is False
    assert list(tmp_path.iterdir()) == [], "down creates nothing"
    assert query(postgres_dsn, "SELECT 1") == [(1,)]


def test_an_external_dsn_starts_and_stops_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAINFOREST_PG_DSN", UNREACHABLE_DSN)
    monkeypatch.setenv("RAINFOREST_STATE_DIR", str(tmp_path))
    server = LocalPostgres(ServiceSettings.load())
    assert server.external
    assert server.dsn() == server.up() == UNREACHABLE_DSN
    assert server.down() is False
    status = server.status()
    assert (status.external, status.running) == (True, False)
    assert status.dsn == "postgresql://app:****@127.0.0.1:1/shop"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        ("postgresql://app:s3cret@db:5432/shop", "postgresql://app:****@db:5432/shop"),
        (
            "postgresql://app@db/shop?password=s3cret&x=1",
            "postgresql://app@db/shop?password=****&x=1",
        ),
        (
            "host=db user=app password='s 3cret' dbname=shop",
            "host=db user=app password=**** dbname=shop",
        ),
        ("postgresql://rainforest@127.0.0.1:54329/rainforest", None),
    ],
)
def test_mask_dsn_hides_passwords_only(dsn: str, masked: str | None) -> None:
    assert mask_dsn(dsn) == (masked or dsn)


def test_the_cli_never_prints_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAINFOREST_PG_DSN", UNREACHABLE_DSN)
    runner = CliRunner()
    for command in ("url", "status", "up", "down"):
        result = runner.invoke(app, [command])
        assert result.exit_code == 0, result.output
        assert "s3cret" not in result.output


def test_the_cli_reports_a_stopped_server_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAINFOREST_PG_DSN", raising=False)
    monkeypatch.setenv("RAINFOREST_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["url"])
    output = " ".join(result.output.split())  # undo rich's line wrapping
    assert result.exit_code == 1
    assert "rainforest db up" in output
    assert "Traceback" not in output
