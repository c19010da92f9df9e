from __future__ import annotations

import pytest

from etl.core.errors import ConfigError
from etl.core.source import INGESTION_DATE, jdbc_connection, source_spec


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


def test_source_spec_keeps_one_snapshot_per_ingestion_date() -> None:
    spec = source_spec("orders", key="order_id")

    assert spec.qualified_name == "bronze.orders"
    assert spec.primary_keys == ("order_id", INGESTION_DATE)
    assert spec.partition_by == (INGESTION_DATE,)
    assert spec.mode == "overwrite_partitions"
    assert spec.upstream == ()
