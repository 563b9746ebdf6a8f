"""What a DAG picture shows, independent of the format: steps, their state, outputs and edges.

A :class:`GraphView` comes from a workflow's IR plus its last run (``axl graph``) or from a run
record alone (``axl report``). Emitters turn it into text; everything here is pure and ordered by
the workflow's node order, so the same input always gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from axl.exec._history import Run, StepRun
    from axl.ir import IRWorkflow

#: A step that the build did not reach (or that no build has run yet).
NEVER = "never"

#: State -> (fill, border, legend text). Failed and error share a colour: both did not produce.
STYLES: dict[str, tuple[str, str, str]] = {
    "ran": ("#c8e6c9", "#2e7d32", "ran"),
    "cached": ("#bbdefb", "#1565c0", "cached"),
    "failed": ("#ffcdd2", "#c62828", "failed"),
    "error": ("#ffcdd2", "#c62828", "error"),
    "skipped": ("#eeeeee", "#757575", "skipped"),
    NEVER: ("#ffffff", "#9e9e9e", "never built"),
}


def style(status: str) -> tuple[str, str, str]:
    """Fill colour, border colour and legend text of a state (unknown states look unbuilt)."""
    return STYLES.get(status, STYLES[NEVER])


@dataclass(frozen=True)
class OutputView:
    """One output: its name, the handler that stored it, and its size when it was built."""

    name: str
    handler: str
    size: int | None = None

    def describe(self, *, named: bool) -> str:
        """``parquet · 63.1 KiB`` (prefixed with ``name:`` when ``named``)."""
        text = self.handler if self.size is None else f"{self.handler} · {human_size(self.size)}"
        return f"{self.name}: {text}" if named else text


@dataclass(frozen=True)
class NodeView:
    """One step as drawn."""

    name: str
    kind: str
    status: str
    outputs: tuple[OutputView, ...]

    def lines(self) -> list[str]:
        """The text under the step's name: one line per output, then the state."""
        outs = self.outputs
        if self.kind == "params":
            # The params step also stores each value separately; the whole dict says enough.
            outs = tuple(o for o in outs if o.name == "out") or outs[:1]
        named = len(outs) > 1
        return [o.describe(named=named) for o in outs] + [style(self.status)[2]]


@dataclass(frozen=True)
class EdgeView:
    """Data flowing from ``src`` to ``dst``; ``label`` lists the arguments it feeds."""

    src: str
    dst: str
    label: str


@dataclass(frozen=True)
class GraphView:
    """A whole workflow as drawn."""

    workflow: str
    nodes: tuple[NodeView, ...]
    edges: tuple[EdgeView, ...]


def human_size(size: int) -> str:
    """``81 B``, ``63.1 KiB``, ``1.4 MiB``: binary units, one decimal above a kibibyte."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _edges(raw: list[tuple[str, str, str, str]], names: set[str]) -> tuple[EdgeView, ...]:
    """One edge per (src, dst) pair, labelled with the arguments it feeds, in first-seen order."""
    merged: dict[tuple[str, str], list[str]] = {}
    for src, out, dst, arg in raw:
        if src not in names or dst not in names:
            continue
        text = arg if out in (arg, "out") else f"{out} → {arg}"
        labels = merged.setdefault((src, dst), [])
        if text not in labels:
            labels.append(text)
    return tuple(EdgeView(s, d, ", ".join(labels)) for (s, d), labels in merged.items())


def _outputs(declared: list[tuple[str, str]], step: StepRun | None) -> tuple[OutputView, ...]:
    """The declared outputs in declaration order, with the handler and size the build recorded."""
    built = step.outputs if step is not None else {}
    views = []
    for name, handler in declared:
        rec = built.get(name)
        views.append(OutputView(name, rec.handler, rec.size) if rec else OutputView(name, handler))
    names = {name for name, _ in declared}
    views += [OutputView(n, r.handler, r.size) for n, r in sorted(built.items()) if n not in names]
    return tuple(views)


def from_ir(ir: IRWorkflow, run: Run | None) -> GraphView:
    """The workflow ``ir`` coloured by ``run`` (its last build; ``None``: never built)."""
    nodes = []
    for node in ir.nodes:
        step = run.steps.get(node.name) if run is not None else None
        outs = _outputs([(o.name, o.handler) for o in node.outputs], step)
        nodes.append(NodeView(node.name, node.kind, step.status if step else NEVER, outs))
    raw = [(e.src, e.src_output, e.dst, e.dst_arg) for e in ir.edges]
    return GraphView(ir.name, tuple(nodes), _edges(raw, {n.name for n in ir.nodes}))


def from_run(run: Run) -> GraphView:
    """The graph of a recorded build, from the record alone."""
    raw_nodes, raw_edges = run.graph()
    nodes = []
    for raw in raw_nodes:
        name = str(raw["name"])
        step = run.steps.get(name)
        declared = [(str(n), str(h)) for n, h in raw.get("outputs", [])]
        outs = _outputs(declared, step)
        kind = str(raw.get("kind", "step"))
        nodes.append(NodeView(name, kind, step.status if step else NEVER, outs))
    return GraphView(run.workflow, tuple(nodes), _edges(raw_edges, {n.name for n in nodes}))
