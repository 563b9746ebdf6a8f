"""``axl validate``: load, trace and check a workflow; print a summary or the IR."""

from __future__ import annotations

import typer

from axl import ir as ir_mod
from axl.cli._app import JsonOpt, ParamsOpt, WorkflowOpt, WorkspaceOpt, app
from axl.workflows import load_ir


@app.command()
def validate(
    module: WorkflowOpt,
    params: ParamsOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a workflow and print its steps, edges and outputs (or, with --json, its IR).

    Outside a project (no pyproject.toml above), the workflow file's folder is the root.
    """
    from axl._loader import reading_root

    root, fallback = reading_root(module, workspace)
    ir = load_ir(module, params_file=params, workspace=root)
    if json_out:
        typer.echo(ir_mod.dumps(ir), nl=False)
        return
    typer.echo(render_summary(ir))
    if fallback:
        typer.echo(f"(no pyproject.toml found: checked with {root} as the root)")


def render_summary(ir: ir_mod.IRWorkflow) -> str:
    edges = ir.edges
    lines = [
        f"workflow {ir.name}: {len(ir.nodes)} steps, {len(edges)} edges, "
        f"hash {ir.compute_hash()[:16]}"
    ]
    if ir.inferred:
        lines.append("  graph inferred from parameter names (the workflow defines no graph())")
    for node in ir.nodes:
        reads = [*node.upstream, *(f"{s.kind} {_shown(s)}" for s in node.sources)]
        ups = ", ".join(reads) or "-"
        outs = ", ".join(
            f"{o.name} ({o.handler}{'.' + o.extension if o.extension else ''})"
            for o in node.outputs
        )
        lines.append(f"  {node.name:<24} <- {ups}")
        lines.append(f"  {'':<24} -> {outs}")
    outside = sorted({s.location for n in ir.nodes for s in n.sources if s.location[:1] == "/"})
    lines.extend(
        f"note: {path} is outside the workspace: it will not exist on a cluster (Argo, images)"
        for path in outside
    )
    return "\n".join(lines)


def _shown(src: ir_mod.Source) -> str:
    return src.location + (f" ({src.glob})" if src.glob else "")
