"""Spark's Thrift JDBC/ODBC server (HiveServer2 protocol), started inside the Python driver.

Inside, rather than with `spark-submit` of the server class, because the names SQL queries
are temporary views that `Catalog` registers in this driver's session, and because the lake's
Python data source needs a Python driver. Every JDBC connection shares that session
(`spark.sql.hive.thriftServer.singleSession`), so each sees the views; the price is that a
`SET` or `USE` in one connection shows in the others.

Example:
    with thrift_server(spark, host="127.0.0.1", port=10000) as url:
        ...  # beeline -u jdbc:hive2://127.0.0.1:10000
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from etl.core.errors import ConfigError, ServiceUnavailableError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

STARTUP_SECONDS = 60.0


@contextmanager
def thrift_server(
    spark: SparkSession, *, host: str, port: int, log_dir: Path | None = None
) -> Iterator[str]:
    """Serve `spark`'s session on `host:port` for the length of the block; yields its JDBC URL.

    `log_dir` receives `derby.log` of the server's scratch metastore (in memory, never shared),
    which Derby would otherwise write into the working folder.
    """
    if _listening(host, port):
        raise ConfigError(
            f"Port {port} on {host} is already in use: stop what listens there, or pick "
            "another port with --port."
        )
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        jvm.java.lang.System.setProperty("derby.stream.error.file", str(log_dir / "derby.log"))
    spark.conf.set("hive.server2.thrift.bind.host", host)
    spark.conf.set("hive.server2.thrift.port", str(port))
    # A static setting, read only by the server's session manager when a client connects;
    # written into this session's configuration because the session already exists.
    spark._jsparkSession.sessionState().conf().setConfString(
        "spark.sql.hive.thriftServer.singleSession", "true"
    )
    server = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(
        spark._jsparkSession.sqlContext()
    )
    try:
        _wait_until_listening(host, port)
        yield f"jdbc:hive2://{host}:{port}"
    finally:
        server.stop()


def _wait_until_listening(host: str, port: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _listening(host, port):
        if time.monotonic() > deadline:
            raise ServiceUnavailableError(
                f"The Thrift server did not listen on {host}:{port} within "
                f"{STARTUP_SECONDS:.0f} s; see the Spark log above."
            )
        time.sleep(0.2)


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0
