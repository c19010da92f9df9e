"""Small charts of a table's history, drawn by matplotlib as SVG files (no script to run in
the browser)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timedelta

from matplotlib import rc_context
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, MaxNLocator

WIDTH_IN, HEIGHT_IN = 4.2, 1.6


def history_chart(points: Sequence[tuple[datetime, float]], *, title: str, unit: str) -> str:
    """A step line of `points` (time, value) in time order, as an SVG document."""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), layout="constrained")
    axes = figure.subplots()
    times = [moment for moment, _ in points]
    values = [value for _, value in points]
    axes.step(times, values, where="post", color="#2f6f4f", linewidth=1.6)
    axes.plot(times, values, "o", color="#2f6f4f", markersize=3)
    axes.set_title(title, fontsize=9, loc="left")
    axes.yaxis.set_major_formatter(EngFormatter(unit=unit, places=0, sep=" "))
    axes.yaxis.set_major_locator(MaxNLocator(nbins=3))
    # At least an hour across, so that versions written a moment apart still get time ticks.
    span = max(max(times) - min(times), timedelta(hours=1))
    axes.set_xlim(min(times) - span / 20, max(times) + span / 20)
    dates = AutoDateLocator(maxticks=4)
    axes.xaxis.set_major_locator(dates)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(dates))
    axes.tick_params(labelsize=7)
    axes.set_ylim(bottom=0)
    axes.spines[["top", "right"]].set_visible(False)
    output = io.StringIO()
    # Text stays text (the page's font, selectable), and no timestamp: same data, same file.
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "rainforest"}):
        figure.savefig(output, format="svg", metadata={"Date": None})
    return output.getvalue()
