"""The class archive's bookkeeping: which options a JVM gets, and what becomes the archive.

The JVM here is a real process that does what Java does with `-XX:ArchiveClassesAtExit`:
it writes the draft when its stdin closes, and exits with the code it is told."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from etl.core.jvm.class_archive import ClassArchive

WRITES_DRAFT_AT_EXIT = """
import sys
import time
sys.stdin.read()
if sys.argv[1] != "-":
    open(sys.argv[1], "w").write("classes")
sys.exit(int(sys.argv[2]))
"""


def _jvm(draft: Path | None, exit_code: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", WRITES_DRAFT_AT_EXIT, str(draft or "-"), str(exit_code)]
    return subprocess.Popen(command, stdin=subprocess.PIPE)


def test_an_archive_is_written_until_there_is_one_then_mapped(tmp_path: Path) -> None:
    archive = ClassArchive.in_folder(tmp_path, jvm_settings="-Xss4m")
    assert archive.java_options().startswith(f"-XX:ArchiveClassesAtExit={archive.draft} ")
    archive.path.write_text("classes")
    assert archive.java_options().startswith(f"-XX:SharedArchiveFile={archive.path} ")


def test_other_jvm_settings_have_an_archive_of_their_own(tmp_path: Path) -> None:
    small = ClassArchive.in_folder(tmp_path, jvm_settings="-Xss4m 4g")
    assert small == ClassArchive.in_folder(tmp_path, jvm_settings="-Xss4m 4g")
    assert small != ClassArchive.in_folder(tmp_path, jvm_settings="-Xss4m 64g")


def test_the_draft_of_a_clean_exit_becomes_the_archive(tmp_path: Path) -> None:
    archive = ClassArchive(tmp_path / "spark.jsa")
    jvm = _jvm(archive.draft, exit_code=0)
    archive._keep(jvm)
    assert jvm.returncode == 0, "the JVM was ended by closing its stdin"
    assert archive.path.read_text() == "classes"
    assert not archive.draft.exists()


def test_the_draft_of_a_failed_exit_is_removed(tmp_path: Path) -> None:
    archive = ClassArchive(tmp_path / "spark.jsa")
    archive._keep(_jvm(archive.draft, exit_code=1))
    assert not archive.ready
    assert list(tmp_path.iterdir()) == []


def test_a_jvm_that_wrote_nothing_leaves_no_archive(tmp_path: Path) -> None:
    archive = ClassArchive(tmp_path / "spark.jsa")
    archive._keep(_jvm(None, exit_code=0))
    assert not archive.ready


def test_drafts_of_killed_jvms_are_removed_once_stale(tmp_path: Path) -> None:
    archive = ClassArchive(tmp_path / "spark.jsa")
    stale, recent = tmp_path / "spark.jsa.1.draft", tmp_path / "spark.jsa.2.draft"
    for draft in (stale, recent):
        draft.write_text("cut short")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    archive._keep(_jvm(archive.draft, exit_code=0))
    assert not stale.exists()
    assert recent.exists(), "it may be another JVM's, still being written"
