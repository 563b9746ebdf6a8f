"""The DAG as a Mermaid flowchart: pastes into a README or a GitHub comment (```mermaid).

Pure and byte-stable, like :func:`axl.viz._dot.to_dot`.
"""

from __future__ import annotations

import re

from axl.viz._model import NEVER, STYLES, GraphView

#: Words Mermaid reads as syntax, so never usable as bare node ids.
_RESERVED = frozenset({"end", "graph", "subgraph", "flowchart", "style", "class", "classdef"})


def _text(text: str) -> str:
    # Inside "..." Mermaid takes entity codes; quotes and angle brackets must not leak through.
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _ids(names: list[str]) -> dict[str, str]:
    """A safe, readable Mermaid id per step name (unique, never a keyword)."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for i, name in enumerate(names):
        base = re.sub(r"\W", "_", name, flags=re.ASCII)
        if not base or base[0].isdigit() or base.lower() in _RESERVED:
            base = f"s_{base}"
        ident = base if base not in used else f"{base}_{i}"
        used.add(ident)
        ids[name] = ident
    return ids


def to_mermaid(view: GraphView) -> str:
    """The graph as Mermaid flowchart source."""
    ids = _ids([n.name for n in view.nodes])
    lines = [
        f"%% The steps of workflow {view.workflow!r}, coloured by their state in the last build.",
        "flowchart LR",
    ]
    for node in view.nodes:
        details = "<br/>".join(_text(line) for line in node.lines())
        lines.append(f'  {ids[node.name]}["<b>{_text(node.name)}</b><br/>{details}"]')
    for edge in view.edges:
        label = f'|"{_text(edge.label)}"|' if edge.label else ""
        lines.append(f"  {ids[edge.src]} -->{label} {ids[edge.dst]}")
    used = [s for s in STYLES if any(n.status == s for n in view.nodes)]
    for state in used:
        fill, border, _ = STYLES[state]
        dash = ",stroke-dasharray:4 3" if state in ("skipped", NEVER) else ""
        lines.append(f"  classDef {state} fill:{fill},stroke:{border},color:#212121{dash}")
    for state in used:
        members = ",".join(ids[n.name] for n in view.nodes if n.status == state)
        lines.append(f"  class {members} {state}")
    return "\n".join(lines) + "\n"
