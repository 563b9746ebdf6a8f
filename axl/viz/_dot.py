"""The DAG as Graphviz ``dot`` text, and its rendering to SVG/PNG with the ``dot`` program.

:func:`to_dot` is pure and byte-stable (node and edge order are the workflow's; no timings, no
paths), so its output has golden tests. Rendering needs Graphviz; when it is missing the error
names the Debian package that provides it.
"""

from __future__ import annotations

import shutil
import subprocess

from axl.errors import UsageError
from axl.viz._model import NEVER, STYLES, GraphView, NodeView, style

#: Output formats the ``dot`` program renders for us.
RENDERED = ("svg", "png")
_FONT = "Helvetica,Arial,sans-serif"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _node(node: NodeView, *, ids: bool) -> str:
    fill, border, _ = style(node.status)
    details = "<br/>".join(_html(line) for line in node.lines())
    label = f'<<b>{_html(node.name)}</b><br/><font point-size="9">{details}</font>>'
    dashed = node.status in ("skipped", NEVER)
    attrs = [
        f"label={label}",
        f'fillcolor="{fill}"',
        f'color="{border}"',
    ]
    if dashed:
        attrs.append('style="rounded,filled,dashed"')
    if node.status in ("failed", "error"):
        attrs.append("penwidth=2")
    if ids:
        # Picked up by the HTML report's script (Graphviz copies id/class into the SVG).
        attrs += [f"id={_quote('step-' + node.name)}", f"class={_quote('step ' + node.status)}"]
    return f"  {_quote(node.name)} [{', '.join(attrs)}];"


def _legend(view: GraphView) -> str:
    """The workflow's name and a key to the colours of the states that appear."""
    states = {n.status if n.status in STYLES else NEVER for n in view.nodes}
    keys = [
        f'<font color="{b}">■</font> {_html(t)}' for s, (_, b, t) in STYLES.items() if s in states
    ]
    return f"<<b>{_html(view.workflow)}</b>   {'   '.join(keys)}>"


def to_dot(view: GraphView, *, ids: bool = False) -> str:
    """The graph as dot source. ``ids`` adds SVG ids/classes (``step-<name>``) for the report."""
    lines = [
        f"// The steps of workflow {view.workflow!r}, coloured by their state in the last build.",
        "// Render: dot -Tsvg this.dot -o graph.svg",
        f"digraph {_quote(view.workflow)} {{",
        f'  graph [rankdir=LR, fontname="{_FONT}", fontsize=11, labelloc=t, labeljust=l,'
        f" nodesep=0.25, ranksep=0.45, label={_legend(view)}];",
        f'  node [shape=box, style="rounded,filled", fontname="{_FONT}", fontsize=11,'
        ' margin="0.14,0.06", penwidth=1.2];',
        f'  edge [fontname="{_FONT}", fontsize=9, color="#78909c", fontcolor="#546e7a",'
        " arrowsize=0.7];",
    ]
    lines += [_node(node, ids=ids) for node in view.nodes]
    for edge in view.edges:
        label = f" [label={_quote(edge.label)}]" if edge.label else ""
        lines.append(f"  {_quote(edge.src)} -> {_quote(edge.dst)}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def have_graphviz() -> bool:
    """Whether Graphviz's ``dot`` program is on the PATH."""
    return shutil.which("dot") is not None


def graphviz_exe(fmt: str) -> str:
    """The path of Graphviz's ``dot`` program, needed to render ``fmt``.

    Raises:
        UsageError: Graphviz is not installed.
    """
    exe = shutil.which("dot")
    if exe is None:
        raise UsageError(
            f"--format {fmt} needs Graphviz's `dot` program, which is not installed "
            "(Debian package: graphviz)",
            hint="apt-get install graphviz, or use --format dot or --format mermaid",
        )
    return exe


def render(source: str, fmt: str) -> bytes:
    """``source`` (dot text) rendered by Graphviz as ``fmt`` (``svg`` or ``png``).

    Raises:
        UsageError: Graphviz is not installed, or it rejected the input.
    """
    exe = graphviz_exe(fmt)
    proc = subprocess.run(
        [exe, f"-T{fmt}"], input=source.encode(), capture_output=True, check=False, timeout=120
    )
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        why = lines[-1] if lines else f"exit status {proc.returncode}"
        raise UsageError(
            f"Graphviz could not render the graph: {why}",
            hint="render the dot text yourself: axl graph ... --format dot",
        )
    return proc.stdout
