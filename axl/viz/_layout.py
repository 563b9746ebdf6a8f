"""A small layered SVG layout of the DAG, for HTML reports on machines without Graphviz.

Left to right like the dot output (a Sugiyama layout, kept simple): a step's column is the length
of the longest path reaching it; an edge that spans several columns gets a waypoint in each column
it crosses, so it is routed between the steps rather than through them; within a column, steps and
waypoints are ordered by the mean row of what feeds them (one barycentre sweep, which untangles
chains, fan-out and fan-in). Text widths are estimated generously (no font metrics here).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise
from xml.sax.saxutils import escape, quoteattr

from axl.viz._model import NEVER, STYLES, EdgeView, GraphView, NodeView, style

_CHAR = 6.9  # px per character of 11 px sans-serif text, rounded up
_LINE = 15.0
_PAD_X, _PAD_Y = 12.0, 9.0
_GAP_X, _GAP_Y = 56.0, 22.0
_WAYPOINT = 14.0  # height a routed edge takes in a column it crosses
_MARGIN, _LEGEND = 12.0, 28.0


@dataclass
class _Box:
    """A step, or (``node is None``) a waypoint of a long edge."""

    name: str
    layer: int
    node: NodeView | None = None
    width: float = 0.0
    height: float = _WAYPOINT
    ups: list[str] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0


def _layers(view: GraphView) -> dict[str, int]:
    """Longest-path layering (Kahn order, so any acyclic edge list works)."""
    names = [n.name for n in view.nodes]
    downs: dict[str, list[str]] = {n: [] for n in names}
    indegree = dict.fromkeys(names, 0)
    for e in view.edges:
        downs[e.src].append(e.dst)
        indegree[e.dst] += 1
    layer = dict.fromkeys(names, 0)
    ready = deque(n for n in names if indegree[n] == 0)
    while ready:
        name = ready.popleft()
        for child in downs[name]:
            layer[child] = max(layer[child], layer[name] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return layer


def _step_box(node: NodeView, layer: int) -> _Box:
    lines = node.lines()
    longest = max([len(node.name) * 1.08, *(len(s) for s in lines)])
    height = (1 + len(lines)) * _LINE + 2 * _PAD_Y - 2
    return _Box(node.name, layer, node, longest * _CHAR + 2 * _PAD_X, height)


def _boxes(view: GraphView) -> tuple[list[list[_Box]], list[list[str]]]:
    """Columns of boxes (ordered), and per edge the chain of box names it passes through."""
    layer = _layers(view)
    boxes = {n.name: _step_box(n, layer[n.name]) for n in view.nodes}
    chains: list[list[str]] = []
    for i, edge in enumerate(view.edges):
        chain = [edge.src]
        for col in range(layer[edge.src] + 1, layer[edge.dst]):
            way = f"\0{i}:{col}"
            boxes[way] = _Box(way, col)
            chain.append(way)
        chain.append(edge.dst)
        for up, down in pairwise(chain):
            boxes[down].ups.append(up)
        chains.append(chain)
    columns: list[list[_Box]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
    for box in boxes.values():
        columns[box.layer].append(box)
    row: dict[str, float] = {}
    for column in columns:
        for i, box in enumerate(column):
            placed = [row[u] for u in box.ups if u in row]
            row[box.name] = sum(placed) / len(placed) if placed else float(i)
        column.sort(key=lambda b: row[b.name])
        for i, box in enumerate(column):
            row[box.name] = float(i)
    return columns, chains


def _place(
    columns: list[list[_Box]], gaps: list[float]
) -> tuple[float, float, list[tuple[float, float]]]:
    """Positions every box; returns the width, the height and each column's (left, width)."""
    heights = [sum(b.height for b in c) + _GAP_Y * max(0, len(c) - 1) for c in columns]
    tallest = max(heights, default=0.0)
    x, extents = _MARGIN, []
    for i, (column, height) in enumerate(zip(columns, heights, strict=True)):
        y = _MARGIN + _LEGEND + (tallest - height) / 2
        width = max((b.width for b in column), default=0.0)
        for box in column:
            box.x, box.y = x + (width - box.width) / 2, y
            y += box.height + _GAP_Y
        extents.append((x, width))
        x += width + (gaps[i] if i < len(gaps) else 0.0)
    return x + _MARGIN, tallest + 2 * _MARGIN + _LEGEND, extents


def _node_svg(box: _Box) -> str:
    node = box.node
    assert node is not None
    fill, border, _ = style(node.status)
    dash = ' stroke-dasharray="4 3"' if node.status in ("skipped", NEVER) else ""
    width = 2.2 if node.status in ("failed", "error") else 1.2
    cx, top = box.x + box.width / 2, box.y + _PAD_Y + 11
    texts = [f'<text x="{cx:.1f}" y="{top:.1f}" class="name">{escape(node.name)}</text>']
    for i, line in enumerate(node.lines(), start=1):
        texts.append(
            f'<text x="{cx:.1f}" y="{top + i * _LINE:.1f}" class="detail">{escape(line)}</text>'
        )
    return (
        f"<g class={quoteattr('node step ' + node.status)} id={quoteattr('step-' + node.name)}>"
        f"<title>{escape(node.name)}</title>"
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}"'
        f' rx="7" fill="{fill}" stroke="{border}" stroke-width="{width}"{dash}/>'
        + "".join(texts)
        + "</g>"
    )


def _edge_svg(
    edge: EdgeView,
    chain: list[str],
    boxes: dict[str, _Box],
    extents: list[tuple[float, float]],
) -> str:
    src, dst = boxes[chain[0]], boxes[chain[-1]]
    # Points the curve passes, left to right: out of the source, across each waypoint's column
    # (a straight run), into the target.
    points = [(src.x + src.width, src.y + src.height / 2)]
    for name in chain[1:-1]:
        way = boxes[name]
        left, width = extents[way.layer]
        mid = way.y + way.height / 2
        points += [(left, mid), (left + width, mid)]
    points.append((dst.x - 3, dst.y + dst.height / 2))
    d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for i in range(1, len(points)):
        (x1, y1), (x2, y2) = points[i - 1], points[i]
        if i % 2 == 0:  # inside a crossed column
            d += f" L{x2:.1f},{y2:.1f}"
            continue
        bend = max(20.0, (x2 - x1) / 2)
        d += f" C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    text = ""
    if edge.label:
        (x1, y1), (x2, y2) = points[0], points[1]
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2 - 5
        text = f'<text x="{mx:.1f}" y="{my:.1f}" class="edge-label">{escape(edge.label)}</text>'
    return f'<g class="edge"><path d="{d}" marker-end="url(#axl-arrow)"/>{text}</g>'


def _legend_svg(view: GraphView) -> tuple[str, float]:
    """The workflow's name and a key to the colours present; and where the key ends."""
    states = {n.status if n.status in STYLES else NEVER for n in view.nodes}
    parts = [f'<text x="{_MARGIN}" y="{_MARGIN + 12}" class="title">{escape(view.workflow)}</text>']
    x = _MARGIN + len(view.workflow) * 8.0 + 24
    for state, (fill, border, text) in STYLES.items():
        if state not in states:
            continue
        parts.append(
            f'<rect x="{x:.1f}" y="{_MARGIN + 2}" width="12" height="12" rx="3" fill="{fill}"'
            f' stroke="{border}"/><text x="{x + 17:.1f}" y="{_MARGIN + 12}" class="legend">'
            f"{escape(text)}</text>"
        )
        x += 17 + len(text) * _CHAR + 18
    return "".join(parts), x + _MARGIN


def _gaps(columns: list[list[_Box]], view: GraphView, chains: list[list[str]]) -> list[float]:
    """Space after each column: room for the labels of the edges that leave it."""
    layer = {b.name: b.layer for c in columns for b in c}
    gaps = [_GAP_X] * len(columns)
    for edge, chain in zip(view.edges, chains, strict=True):
        col = layer[chain[0]]
        gaps[col] = max(gaps[col], len(edge.label) * 6.2 + 28)
    return gaps


def layout_svg(view: GraphView) -> str:
    """The graph as an ``<svg>`` element: a ``g.node`` per step, a ``g.edge`` per edge."""
    columns, chains = _boxes(view)
    width, height, extents = _place(columns, _gaps(columns, view, chains))
    boxes = {b.name: b for column in columns for b in column}
    edges = [_edge_svg(e, c, boxes, extents) for e, c in zip(view.edges, chains, strict=True)]
    nodes = [_node_svg(b) for column in columns for b in column if b.node is not None]
    legend, legend_end = _legend_svg(view)
    width = max(width, legend_end)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag builtin" width="{width:.0f}"'
        f' height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}"'
        ' font-family="Helvetica,Arial,sans-serif">'
        "<style>.name{font:bold 12px sans-serif;text-anchor:middle;fill:#212121}"
        ".detail{font:11px sans-serif;text-anchor:middle;fill:#37474f}"
        ".edge path{fill:none;stroke:#78909c;stroke-width:1.2}"
        ".edge-label{font:10px sans-serif;text-anchor:middle;fill:#546e7a;paint-order:stroke;"
        "stroke:#fff;stroke-width:3px}.title{font:bold 13px sans-serif;fill:#212121}"
        ".legend{font:11px sans-serif;fill:#37474f}</style>"
        '<defs><marker id="axl-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"'
        ' markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"'
        ' fill="#78909c"/></marker></defs>' + legend + "".join(edges) + "".join(nodes) + "</svg>"
    )
