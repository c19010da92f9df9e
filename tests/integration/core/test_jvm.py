"""What the framework adds to the driver's JVM, with real JVMs: the class archive (written by
a first session, mapped by the next, written anew when damaged) and the local file system."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from etl.core.jvm import FOLDER
from etl.core.jvm.local_files import CLASS_NAME, local_file_system_jar

A_SESSION = """
import sys
from pathlib import Path
from etl.core.session import build_session
from etl.core.settings import Settings
settings = Settings(spark_master="local[1]", state_dir=Path(sys.argv[1]), warehouse=sys.argv[2])
print("rows", build_session(settings).range(3).count())
"""


def _session(state_dir: Path, tmp_path: Path, class_log: Path) -> str:
    """Run a session in a process of its own; its output, and the JVM's class loads in
    `class_log`."""
    env = {**os.environ, "JAVA_TOOL_OPTIONS": f"-Xlog:class+load=info:file={class_log}"}
    env.pop("RAINFOREST_SPARK_CLASS_ARCHIVE", None)
    done = subprocess.run(
        [sys.executable, "-c", A_SESSION, str(state_dir), str(tmp_path / "lakehouse")],
        env=env,
        cwd=tmp_path,  # where a JVM that crashes on the damaged archive leaves its report
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout


def _mapped_from_archive(class_log: Path) -> int:
    """Classes the JVM took from the dynamic archive (the "top" layer of shared classes)."""
    return class_log.read_text().count("source: shared objects file (top)")


def test_a_session_maps_the_classes_an_earlier_one_archived(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = _session(state_dir, tmp_path, tmp_path / "first.log")
    assert "rows 3" in first
    assert "[cds]" not in first, "writing the archive says nothing on the driver's output"
    [archive] = (state_dir / FOLDER).glob("*.jsa")
    assert archive.suffix == ".jsa"
    assert _mapped_from_archive(tmp_path / "first.log") == 0

    assert "rows 3" in _session(state_dir, tmp_path, tmp_path / "second.log")
    assert _mapped_from_archive(tmp_path / "second.log") > 5000

    with archive.open("r+b") as damaged:
        damaged.truncate(archive.stat().st_size // 2)
    assert "rows 3" in _session(state_dir, tmp_path, tmp_path / "third.log")
    assert archive.stat().st_size > 2 * 1_000_000, "written whole again"
    assert "rows 3" in _session(state_dir, tmp_path, tmp_path / "fourth.log")
    assert _mapped_from_archive(tmp_path / "fourth.log") > 5000


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
