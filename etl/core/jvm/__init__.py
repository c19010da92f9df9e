"""What the framework adds to the driver's JVM, built on the machine it runs on and kept under
the settings' `state_dir`: a class archive (`class_archive`) and a local file system that sets
permissions without starting processes (`local_files`).

Both belong to one Java and one set of Spark jars, so their file names carry a fingerprint of
them: an upgrade of either builds new ones instead of using stale ones.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

FOLDER = "jvm"
"""Under the settings' `state_dir`."""


def fingerprint(*parts: str) -> str:
    """Of the Java binary, every Spark jar and `parts` (options, sources)."""
    digest = hashlib.sha256("\n".join(parts).encode())
    java = java_tool("java")
    files = [Path(java).resolve()] if java else []
    files += sorted((spark_home() / "jars").glob("*.jar"))
    for file in files:
        stat = file.stat()
        digest.update(f"{file}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def java_tool(name: str) -> str | None:
    """Where Spark's launcher would find a JDK tool: `$JAVA_HOME/bin` first, else the PATH."""
    java_home = os.environ.get("JAVA_HOME")
    return shutil.which(name, path=str(Path(java_home) / "bin") if java_home else None)


def spark_home() -> Path:
    if home := os.environ.get("SPARK_HOME"):
        return Path(home)
    import pyspark

    return Path(pyspark.__file__).parent
