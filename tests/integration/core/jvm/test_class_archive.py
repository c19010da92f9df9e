"""The driver's class archive with real JVMs: written by a first session, mapped by the next,
and written anew when damaged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from etl.core.jvm import FOLDER

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
