"""Where each table of a lineage graph is drawn: tables in columns by how far they are from
the database, ordered in each column to keep edges short."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from graphlib import TopologicalSorter

NODE_WIDTH = 210
NODE_HEIGHT = 26
COLUMN_GAP = 50
ROW_GAP = 10
MARGIN = 10
SWEEPS = 4
"""Passes that reorder each column by the mean row of the tables it reads (and then of those
that read it): enough for a graph of this size to settle."""


@dataclass(frozen=True)
class PlacedNode:
    name: str
    layer: str
    x: int
    y: int

    @property
    def label(self) -> str:
        """The name without `postgres:`: the node's colour tells where it lives."""
        return self.name.removeprefix("postgres:")


@dataclass(frozen=True)
class PlacedEdge:
    """A curve from the right side of one table to the left side of another."""

    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Drawing:
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]
    width: int
    height: int
    highlighted: str | None = None
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT


def draw(edges: Sequence[tuple[str, str]], *, highlighted: str | None = None) -> Drawing:
    """Place the tables of `edges` (source, target): each in the column of its longest path
    from a table nothing feeds, rows ordered by the barycentre heuristic."""
    upstream: dict[str, set[str]] = {}
    for source, target in edges:
        upstream.setdefault(source, set())
        upstream.setdefault(target, set()).add(source)
    if highlighted is not None:
        upstream.setdefault(highlighted, set())
    depth: dict[str, int] = {}
    for name in TopologicalSorter(upstream).static_order():
        depth[name] = max((depth[source] + 1 for source in upstream[name]), default=0)
    columns: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in sorted(depth):
        columns[depth[name]].append(name)
    downstream: dict[str, set[str]] = {name: set() for name in upstream}
    for source, target in edges:
        downstream[source].add(target)
    for _ in range(SWEEPS):
        _reorder(columns[1:], upstream, columns)
        _reorder(list(reversed(columns[:-1])), downstream, columns)
    tallest = max((len(column) for column in columns), default=0)
    step = NODE_HEIGHT + ROW_GAP
    nodes = tuple(
        PlacedNode(
            name=name,
            layer=_layer(name),
            x=MARGIN + number * (NODE_WIDTH + COLUMN_GAP),
            # Each column centred on the tallest: edges between columns stay short.
            y=MARGIN + (tallest - len(column)) * step // 2 + index * step,
        )
        for number, column in enumerate(columns)
        for index, name in enumerate(column)
    )
    at = {node.name: node for node in nodes}
    placed_edges = tuple(
        PlacedEdge(
            x1=at[source].x + NODE_WIDTH,
            y1=at[source].y + NODE_HEIGHT // 2,
            x2=at[target].x,
            y2=at[target].y + NODE_HEIGHT // 2,
        )
        for source, target in edges
    )
    return Drawing(
        nodes=nodes,
        edges=placed_edges,
        width=2 * MARGIN + len(columns) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP,
        height=2 * MARGIN + tallest * (NODE_HEIGHT + ROW_GAP) - ROW_GAP,
        highlighted=highlighted,
    )


def _reorder(
    columns: Sequence[list[str]], neighbours: dict[str, set[str]], all_columns: list[list[str]]
) -> None:
    """Sort each column by the mean row of each table's neighbours in the column before."""
    for column in columns:
        row = {name: index for other in all_columns for index, name in enumerate(other)}
        column.sort(key=lambda name, row=row: (_centre(name, neighbours, row), name))


def _centre(name: str, neighbours: dict[str, set[str]], row: dict[str, int]) -> float:
    placed = [row[other] for other in neighbours.get(name, ()) if other in row]
    return sum(placed) / len(placed) if placed else row[name]


def _layer(name: str) -> str:
    """`postgres`, `bronze`, `silver` or `gold`: what colours the node."""
    return name.partition(":")[0] if ":" in name else name.partition(".")[0]
