"""The driver JVM's classes, archived by one run and mapped by the next (class data sharing).

A Spark driver loads, parses and verifies some ten thousand classes before its first job. Java
can instead map them from an archive an earlier JVM wrote as it exited (`-XX:SharedArchiveFile`,
dynamic AppCDS, Java 13+): on this project's machines a session then starts in 1.6 s with
2.4 s of JVM CPU instead of 2.8-3.0 s with 4.4-4.7 s, and its first job takes 0.6 s instead
of 1.2-1.3 s. Writing the archive costs the first run: its JVM runs slower and takes 5-10 s
to write it at its exit.

The archive's name carries a fingerprint of the Java, the Spark jars and the JVM's settings it
was written with (`etl.core.jvm`). The first session of a fingerprint starts as Spark does
and writes the archive when its JVM exits, to a draft that becomes the archive only once that
JVM has exited cleanly. Java crashes on an archive cut short, so only a complete one ever
bears the archive's name; one damaged later makes the JVM exit as it starts, and
`build_session` then discards it and starts without.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from etl.core.jvm import fingerprint

QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"
"""Writing an archive warns, on the driver's stdout, of each class it cannot take (signed jars,
old class versions): hundreds of lines that say nothing to a user of the pipeline."""
EXIT_WAIT_S = 120.0
"""How long a process waits at its exit for its JVM to write the archive (5-12 s measured)."""
STALE_DRAFT_S = 3600.0
"""Drafts of JVMs killed while writing them are removed after this long."""


@dataclass(frozen=True)
class ClassArchive:
    """The archive for the Java and Spark this process would start, in `folder`."""

    path: Path

    @classmethod
    def in_folder(cls, folder: Path, *, jvm_settings: str) -> ClassArchive:
        """The archive of JVMs started with `jvm_settings` (options, memory, extra jars)."""
        return cls(folder / f"spark-{fingerprint(jvm_settings)}.jsa")

    @property
    def ready(self) -> bool:
        return self.path.is_file()

    @property
    def draft(self) -> Path:
        return self.path.with_name(f"{self.path.name}.{os.getpid()}.draft")

    def java_options(self) -> str:
        """Map the archive if there is one, else write it at the JVM's exit."""
        if self.ready:
            return f"-XX:SharedArchiveFile={self.path} {QUIET}"
        return f"-XX:ArchiveClassesAtExit={self.draft} {QUIET}"

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)

    def keep_at_exit(self, jvm: subprocess.Popen[bytes]) -> None:
        """At this process's exit, end `jvm` and keep what it wrote as the archive.

        The JVM writes the archive as it exits, which it does when its stdin closes: closing
        it ourselves and waiting lets the archive be checked and renamed before we are gone.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atexit.register(self._keep, jvm)

    def _keep(self, jvm: subprocess.Popen[bytes]) -> None:
        if jvm.stdin is not None:
            jvm.stdin.close()
        try:
            exit_code = jvm.wait(timeout=EXIT_WAIT_S)
        except subprocess.TimeoutExpired:
            return
        if exit_code == 0 and self.draft.is_file():
            os.replace(self.draft, self.path)
        else:
            self.draft.unlink(missing_ok=True)
        self._remove_stale_drafts()

    def _remove_stale_drafts(self) -> None:
        for draft in self.path.parent.glob("*.draft"):
            with contextlib.suppress(OSError):
                if time.time() - draft.stat().st_mtime > STALE_DRAFT_S:
                    draft.unlink()
