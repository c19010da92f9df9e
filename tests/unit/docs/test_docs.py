"""The docs site's pieces that need no data: the graph's layout and the description markup."""

from __future__ import annotations

from etl.docs.graph import NODE_HEIGHT, NODE_WIDTH, draw
from etl.docs.site import _prose

EDGES = [
    ("postgres:shop.items", "bronze.items"),
    ("postgres:shop.users", "bronze.users"),
    ("bronze.items", "silver.fact_items"),
    ("bronze.users", "silver.dim_user"),
    ("silver.dim_user", "gold.wide_items"),
    ("silver.fact_items", "gold.wide_items"),
    ("bronze.items", "gold.wide_items"),
]


def test_tables_stand_in_columns_by_their_longest_path_from_the_database() -> None:
    drawing = draw(EDGES)
    x = {node.name: node.x for node in drawing.nodes}

    assert x["postgres:shop.items"] == x["postgres:shop.users"] < x["bronze.items"]
    assert x["bronze.items"] < x["silver.fact_items"] < x["gold.wide_items"], "longest path"
    assert {node.layer for node in drawing.nodes} == {"postgres", "bronze", "silver", "gold"}


def test_no_two_tables_overlap_and_every_edge_runs_forwards() -> None:
    drawing = draw(EDGES)
    boxes = [(node.x, node.y) for node in drawing.nodes]

    assert len(set(boxes)) == len(boxes)
    for node in drawing.nodes:
        assert node.x + NODE_WIDTH <= drawing.width and node.y + NODE_HEIGHT <= drawing.height
    assert all(edge.x1 < edge.x2 for edge in drawing.edges)
    assert len(drawing.edges) == len(EDGES)


def test_a_lone_table_is_drawn_and_marked() -> None:
    drawing = draw([], highlighted="gold.alone")

    assert [node.name for node in drawing.nodes] == ["gold.alone"]
    assert drawing.highlighted == "gold.alone"


def test_descriptions_show_backticks_as_code_and_escape_the_rest() -> None:
    assert str(_prose("`a < b` or <i>")) == "<code>a &lt; b</code> or &lt;i&gt;"
    assert str(_prose("one ` alone")) == "one ` alone"
