from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from etl.core.quality.gx import build_data_docs


def test_each_run_writes_its_docs_into_its_own_folder(tmp_path: Path) -> None:
    """One process may run into several warehouses; docs must not land in the first one's."""
    first, second = tmp_path / "first", tmp_path / "second"
    run_ts = datetime(2025, 1, 31, tzinfo=UTC)

    for folder in (first, second):
        index = build_data_docs(folder, [], run_id="run-1", run_ts=run_ts)
        assert index == folder / "index.html"
        assert index.is_file()
