"""The upstream database: JDBC URLs without secrets, and errors that say what to do."""

from __future__ import annotations

import pytest

from etl.core.errors import ConfigError, ServiceUnavailableError
from etl.core.upstream import Upstream, connect, jdbc_connection


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://shop:s3cret@127.0.0.1:5433/rainforest",
        "host=127.0.0.1 port=5433 dbname=rainforest user=shop password=s3cret",
    ],
)
def test_jdbc_connection_keeps_the_password_out_of_the_url(dsn: str) -> None:
    url, properties = jdbc_connection(dsn)

    assert url == "jdbc:postgresql://127.0.0.1:5433/rainforest"
    assert properties == {"user": "shop", "password": "s3cret"}
    assert "s3cret" not in url


def test_jdbc_connection_defaults_port_and_omits_missing_credentials() -> None:
    url, properties = jdbc_connection("host=db.example dbname=shop")

    assert url == "jdbc:postgresql://db.example:5432/shop"
    assert properties == {}


def test_jdbc_connection_refuses_a_unix_socket_with_advice() -> None:
    with pytest.raises(ConfigError, match="TCP"):
        jdbc_connection("host=/var/run/postgresql dbname=rainforest")


def test_an_upstream_keeps_its_dsn_out_of_repr() -> None:
    upstream = Upstream(dsn="postgresql://shop:s3cret@127.0.0.1:5433/rainforest", schema="shop")

    assert "s3cret" not in repr(upstream)


def test_a_database_that_does_not_answer_gets_the_callers_advice() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    with (
        pytest.raises(ServiceUnavailableError) as refused,
        connect("postgresql://shop@127.0.0.1:1/shop", advice="start it with `make db`"),
    ):
        pass

    assert "127.0.0.1:1" in str(refused.value)
    assert str(refused.value).endswith("start it with `make db`.")
