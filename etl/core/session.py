"""The Spark session factory: one place that turns `Settings` into a configured session."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

from pyspark.core.context import SparkContext
from pyspark.errors import PySparkRuntimeError
from pyspark.sql import SparkSession

from etl.core.errors import ServiceUnavailableError
from etl.core.jvm import FOLDER as JVM_FOLDER
from etl.core.jvm.class_archive import ClassArchive
from etl.core.jvm.local_files import CLASS_NAME as LOCAL_FILE_SYSTEM
from etl.core.jvm.local_files import local_file_system_jar
from etl.core.settings import Settings

DEFAULT_APP_NAME = "rainforest"
LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")
C1_ONLY = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
"""C1 alone gets the 48 MB code cache of a JVM without tiers, which a scale-10 incremental run
filled ("Out of space in CodeCache for adapters"); 256 MB is the tiered JVM's own default."""
JVM_SETTINGS = (
    "spark.driver.extraJavaOptions",
    "spark.driver.extraClassPath",
    "spark.driver.memory",
    "spark.jars",
)
"""What a driver JVM's class archive depends on besides Java and Spark themselves."""
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})


def spark_conf(
    settings: Settings,
    *,
    app_name: str = DEFAULT_APP_NAME,
    class_archive: ClassArchive | None = None,
    local_files_jar: Path | None = None,
) -> dict[str, str]:
    """The session's configuration, apart so that tests and `stack status` can show it.

    `local_files_jar` holds the local file system of `etl.core.jvm.local_files`, used with a
    local master only: executors elsewhere would not have it."""
    conf = {
        "spark.app.name": app_name,
        "spark.master": settings.spark_master,
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        # Tables build concurrently (`run_pipeline`), each in a pool of its own: a small
        # table's jobs do not queue behind a large one's.
        "spark.scheduler.mode": "FAIR",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        # Shuffled data is cut into partitions of the advisory size (64 MB), not into as many
        # as there are cores: a dimension of 20 rows is one task and one file, not one per core.
        "spark.sql.adaptive.coalescePartitions.parallelismFirst": "false",
        # The same for rows a replacing build persists: without it a cached plan keeps its
        # shuffle's 8 partitions, so writing a small fact read 8 cached blocks and shuffled
        # them again.
        "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "true",
        # Those rows live for one table's build: compressing their columns (which gathers
        # statistics per value, boxed) took most of the time of keeping them (4.4 s of a
        # scale-10 run's Spark tasks when checks cached their rows too), to save memory the
        # build gives back at its end.
        "spark.sql.inMemoryColumnarStorage.compressed": "false",
        # The lake hands Spark the exact files of a snapshot (`Lake.read`); past 32 paths
        # Spark would list them in a Spark job, 0.5-0.9 s per read of a 90-partition table
        # against 0.07 s for the driver's own listing.
        "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
        "spark.ui.enabled": str(settings.spark_ui).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        # Off: the lake's reader takes no filters (see `etl.core.lake.scan`), and with it on
        # Spark would start a Python worker to offer them at every scan's planning.
        "spark.sql.python.filterPushdown.enabled": "false",
        # Delta wants microsecond timestamps; Spark's INT96 default is not in the protocol.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.maxRecordsPerBatch": "65536",
        # Any other value makes Spark measure the Arrow batch's size after every row it adds
        # (`BatchedPythonArrowInput.writeSizedBatch`), which measured 3.1x the cost of the
        # transfer itself; the row limit above keeps batches bounded.
        "spark.sql.execution.arrow.maxBytesPerBatch": str(2**31 - 1),
        # Executors must run the interpreter that has the project and its dependencies.
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    if settings.jdbc_jar.is_file():
        conf["spark.jars"] = str(settings.jdbc_jar)
    if settings.spark_event_log_dir:
        conf["spark.eventLog.enabled"] = "true"
        conf["spark.eventLog.dir"] = settings.spark_event_log_dir
    if settings.spark_executor_cores is not None:
        conf["spark.executor.cores"] = str(settings.spark_executor_cores)
    if settings.spark_executor_memory is not None:
        conf["spark.executor.memory"] = settings.spark_executor_memory
    local = settings.spark_master.startswith("local")
    if settings.spark_jit_c1_only:
        # A run's many short jobs spent more CPU in the C2 compiler than its code won back: on
        # the native cluster, executors used half the CPU with C1 only and the scale-1 run took
        # 72-87 s instead of 105-127 s; locally, a scale-10 incremental run took 90-94 s
        # instead of 106-112 s (C2 compiled for 63 s of it), the full run 80-87 s either way.
        conf["spark.driver.extraJavaOptions"] += f" {C1_ONLY}"
        conf["spark.executor.extraJavaOptions"] = C1_ONLY
    if local or _master_address(settings.spark_master)[0] in _LOOPBACK_HOSTS:
        # Executors of a loopback master connect back to the driver on loopback too, whatever
        # the machine's host name resolves to.
        conf["spark.driver.host"] = "127.0.0.1"
        conf["spark.driver.bindAddress"] = "127.0.0.1"
    if local and local_files_jar is not None:
        conf["spark.driver.extraClassPath"] = str(local_files_jar)
        conf["spark.hadoop.fs.file.impl"] = LOCAL_FILE_SYSTEM
    if class_archive is not None:
        conf["spark.driver.extraJavaOptions"] += f" {class_archive.java_options()}"
    return conf


def build_session(settings: Settings, *, app_name: str = DEFAULT_APP_NAME) -> SparkSession:
    """Get or create the session for these settings.

    The lake data source needs no registration call: the installed package
    `pyspark_rainforest` exposes it as `DefaultSource`, which Spark finds by itself.
    """
    # Python workers (UDFs, the lake data source) start from PYSPARK_PYTHON, which
    # spark.pyspark.python does not reliably override in local mode.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    _check_master_answers(settings.spark_master)
    if SparkContext._gateway is not None:
        # A JVM this process started already: its classes are loaded, its options set.
        return _session(spark_conf(settings, app_name=app_name))
    jvm_folder = settings.state_dir / JVM_FOLDER
    local_files_jar = (
        local_file_system_jar(jvm_folder)
        if settings.spark_local_files_in_process and settings.spark_master.startswith("local")
        else None
    )

    def conf(archive: ClassArchive | None) -> dict[str, str]:
        return spark_conf(
            settings, app_name=app_name, class_archive=archive, local_files_jar=local_files_jar
        )

    if not settings.spark_class_archive:
        return _session(conf(None))
    jvm_settings = " ".join(conf(None).get(key, "") for key in JVM_SETTINGS)
    archive = ClassArchive.in_folder(jvm_folder, jvm_settings=jvm_settings)
    writes_archive = not archive.ready
    try:
        spark = _session(conf(archive))
    except PySparkRuntimeError:
        if writes_archive:
            raise
        # A JVM exits as it starts on a damaged archive: start as Spark does, and write anew.
        archive.discard()
        writes_archive = True
        spark = _session(conf(archive))
    jvm = getattr(SparkContext._gateway, "proc", None)
    if writes_archive and jvm is not None:
        archive.keep_at_exit(jvm)
    return spark


def _session(conf: dict[str, str]) -> SparkSession:
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _master_address(master: str) -> tuple[str | None, int | None]:
    """Host and port of a `spark://host:port` master; (None, None) for local masters and for
    lists of standby masters, which Spark resolves itself."""
    parsed = urlparse(master)
    if parsed.scheme != "spark" or "," in parsed.netloc:
        return None, None
    return parsed.hostname, parsed.port


def _check_master_answers(master: str) -> None:
    """Fail at once with what to do, instead of Spark retrying an absent master for a minute."""
    host, port = _master_address(master)
    if host is None or port is None:
        return
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError:
        raise ServiceUnavailableError(
            f"The Spark master {master} does not answer: start the cluster (for the project's "
            "native stack, `rainforest stack up` or `make up`), or set RAINFOREST_SPARK_MASTER."
        ) from None
