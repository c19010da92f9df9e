"""The services a run needs stop in the middle of it: Postgres during an extract, the S3
server (SeaweedFS) during a write. Each failure is retried, then reported as a clear error
naming the table; no table is half-written, every table keeps a readable committed version,
and the run after the service is back completes with reports equal to SQL on Postgres."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from datagen import generate
from etl.services.postgres import LocalPostgres
from etl.services.seaweedfs import SeaweedS3
from etl.services.state import free_port
from tests.faults.support import (
    ORDER_REPORT,
    Run,
    Shop,
    assert_every_table_opens,
    assert_reports_equal_postgres,
    build,
    run_until,
    started,
)
from tests.fixtures.postgres import (
    TEST_END_DATE,
    TEST_SCALE,
    TEST_SEED,
    load_into,
    own_state_dir,
    server_settings,
)
from tests.fixtures.s3 import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.faults, pytest.mark.spark, pytest.mark.postgres]

QUICK_RETRIES = {
    "RAINFOREST_RETRY_ATTEMPTS": "2",
    "RAINFOREST_RETRY_WAIT_S": "1",
    "RAINFOREST_RETRY_MAX_WAIT_S": "1",
}


@pytest.fixture
def own_postgres() -> Iterator[LocalPostgres]:
    """A Postgres server of this test's own, which it may stop and start again."""
    with own_state_dir() as state_dir:
        server = LocalPostgres(server_settings(state_dir, port=free_port()))
        dsn = server.up()
        load_into(dsn, generate(scale=TEST_SCALE, seed=TEST_SEED, end_date=TEST_END_DATE))
        try:
            yield server
        finally:
            server.down()


def failed_tables(outcome: Run) -> dict[str, str]:
    return {
        str(event["table"]): str(event["message"])
        for event in outcome.of("table_finished")
        if event["status"] == "failed"
    }


def unchanged(before: dict[str, int], after: dict[str, int], tables: set[str]) -> list[str]:
    """The tables among `tables` (qualified names) whose version moved."""
    return [
        uri
        for uri in after
        if ".".join(uri.split("/")[-2:]) in tables and before.get(uri) != after[uri]
    ]


def test_postgres_stopped_during_an_extract(
    spark: SparkSession, own_postgres: LocalPostgres, tmp_path: Path
) -> None:
    shop = Shop(own_postgres.dsn(), tmp_path, QUICK_RETRIES)
    build(spark, shop, shop.simulated_through())
    day = shop.advance()
    before = assert_every_table_opens(shop.settings())

    broken = run_until(
        shop,
        "--date",
        day.isoformat(),
        when=lambda events: str(events[-1].get("table", "")).startswith("bronze."),
        then=lambda _: own_postgres.down(),
    )

    assert broken.returncode == 1, broken.explain()
    first = str(broken.of("table_started")[0]["table"])
    failed = failed_tables(broken)
    assert first in failed, f"{first} was extracting\n{broken.explain()}"
    for table, message in failed.items():
        assert "Cannot reach Postgres" in message, (table, message)
    retried = {str(event["table"]) for event in broken.of("table_retried")}
    assert set(failed) <= retried, "each was retried before it failed"
    assert first in broken.stderr, "the run's last words name the table"
    after = assert_every_table_opens(shop.settings())
    assert unchanged(before, after, set(failed)) == [], "nothing half-written"

    own_postgres.up()
    build(spark, shop, day)

    assert_reports_equal_postgres(spark, shop, day)


@dataclass
class RestartableS3:
    """An S3 server of this test's own, which it may stop and start again on the same data."""

    server: SeaweedS3
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = start_server(self.server)

    def stop(self) -> None:
        if self.process is not None:
            stop_server(self.process)
            self.process = None


@pytest.fixture
def own_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableS3]:
    s3 = RestartableS3(
        SeaweedS3(
            data_dir=tmp_path_factory.mktemp("seaweedfs-faults"),
            port=free_port(),
            bucket="faults",
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
        )
    )
    s3.start()
    try:
        yield s3
    finally:
        s3.stop()


def test_s3_stopped_during_a_write(spark: SparkSession, shop: Shop, own_s3: RestartableS3) -> None:
    on_s3 = Shop(
        shop.dsn,
        shop.folder,
        {
            **QUICK_RETRIES,
            "RAINFOREST_WAREHOUSE": f"s3://{own_s3.server.bucket}/lake",
            "RAINFOREST_S3_ENDPOINT": own_s3.server.endpoint,
            "RAINFOREST_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "RAINFOREST_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "RAINFOREST_S3_REGION": REGION,
        },
    )
    build(spark, on_s3, on_s3.simulated_through(), ORDER_REPORT)
    day = on_s3.advance()
    before = assert_every_table_opens(on_s3.settings())

    broken = run_until(
        on_s3,
        ORDER_REPORT,
        "--date",
        day.isoformat(),
        when=started("silver.fact_orders"),
        then=lambda _: own_s3.stop(),
        after_s=0.5,
    )

    assert broken.returncode == 1, broken.explain()
    failed = failed_tables(broken)
    assert failed, broken.explain()
    for table, message in failed.items():
        assert own_s3.server.endpoint in message, (table, message)
    own_s3.start()
    after = assert_every_table_opens(on_s3.settings())
    assert unchanged(before, after, set(failed)) == [], "the previous versions stay"

    build(spark, on_s3, day, ORDER_REPORT)

    assert_reports_equal_postgres(spark, on_s3, day, categories=False)
