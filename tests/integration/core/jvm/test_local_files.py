"""The driver's local file system: Hadoop's, with permissions set by Java and no checksum files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from etl.core.jvm import java_tool
from etl.core.jvm.local_files import CLASS_NAME, local_file_system_jar

pytestmark = pytest.mark.skipif(
    java_tool("javac") is None, reason="a JRE alone: Spark keeps Hadoop's local file system"
)


def test_local_files_get_their_permissions_without_checksum_files(
    spark: SparkSession, tmp_path: Path
) -> None:
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    assert hadoop.get("fs.file.impl") == CLASS_NAME
    folder = tmp_path / "written"
    spark.range(10).selectExpr("id", "id % 2 AS day").write.partitionBy("day").parquet(str(folder))
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert {path.name for path in files if path.name.startswith(".")} == set()
    umask = os.umask(0)
    os.umask(umask)
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path
    for path in [folder, *(path for path in folder.rglob("*") if path.is_dir())]:
        assert path.stat().st_mode & 0o777 == 0o777 & ~umask, path

    jvm = spark.sparkContext._jvm  # type: ignore[union-attr]
    hadoop_path = jvm.org.apache.hadoop.fs.Path(files[0].as_uri())
    file_system = hadoop_path.getFileSystem(hadoop)
    file_system.setPermission(hadoop_path, jvm.org.apache.hadoop.fs.permission.FsPermission(0o604))
    assert files[0].stat().st_mode & 0o777 == 0o604


def test_the_local_file_system_is_compiled_once(tmp_path: Path) -> None:
    jar = local_file_system_jar(tmp_path)
    assert jar is not None and jar.parent == tmp_path
    built = jar.stat().st_mtime_ns
    assert local_file_system_jar(tmp_path) == jar
    assert jar.stat().st_mtime_ns == built
    assert [path.name for path in tmp_path.iterdir()] == [jar.name], "no build leftovers"
