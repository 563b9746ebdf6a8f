"""``axl graph``: the workflow's DAG, each step coloured by its state in the last build."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from axl.cli._app import ParamsOpt, WorkspaceOpt, app
from axl.cli._run import CacheDirOpt
from axl.errors import UsageError

if TYPE_CHECKING:
    from axl.ir import IRWorkflow

FORMATS = ("dot", "mermaid", "svg", "png")
_SUFFIXES = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".svg": "svg", ".png": "png"}

LabelArg = Annotated[
    str | None,
    typer.Argument(help="A workflow target (//pkg:name); or use -m.", show_default=False),
]
ModuleOpt = Annotated[
    str | None,
    typer.Option("--module", "-m", help="The workflow: module:Class or path/to/file.py:Class."),
]


def workflow_ir(
    label: str | None, module: str | None, params: str | None, workspace: str | None
) -> tuple[IRWorkflow, Path | None]:
    """The IR of the workflow a command names, by label or by ``-m``, and the workspace root
    (``None`` for ``-m`` outside a project: then there is no cache to read either).

    Raises:
        UsageError: Neither or both are given, or the label is not a workflow target.
    """
    from axl._loader import find_workspace, reading_root
    from axl.workflows import load_ir

    if label is not None and module is not None:
        raise UsageError("name the workflow either by label or with -m, not both")
    if label is None and module is None:
        raise UsageError(
            "which workflow? name it by label or with -m",
            hint="e.g. //examples:churn, or -m examples/tiny.py:Tiny",
        )
    if module is not None:
        found, fallback = reading_root(module, workspace)
        ir = load_ir(module, params_file=params, workspace=found)
        return ir, None if fallback else found
    assert label is not None
    from axl.exec._targets import target_params, workflow_spec, workflow_target
    from axl.graph._targets import TargetGraph

    root = find_workspace(explicit=workspace)
    target = workflow_target(TargetGraph(root), label)
    spec = workflow_spec(target, root)
    chosen = params or target_params(target)
    return load_ir(spec, params_file=chosen, workspace=root), root


def write_output(data: bytes, out: str) -> Path:
    """Write ``data`` to ``out`` atomically (a temp file in the same folder, then a rename)."""
    path = Path(out)
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        raise UsageError(f"--out {out}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _format(fmt: str | None, out: str | None) -> str:
    if fmt is None:
        return _SUFFIXES.get(Path(out).suffix.lower(), "dot") if out else "dot"
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt} is not one of {', '.join(FORMATS)}", hint="e.g. -f svg")
    return fmt


@app.command()
def graph(
    label: LabelArg = None,
    module: ModuleOpt = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="dot, mermaid, svg or png (default: from --out's suffix, or dot).",
        ),
    ] = None,
    out: Annotated[str | None, typer.Option("--out", "-o", help="Write to FILE.")] = None,
    params: ParamsOpt = None,
    workspace: WorkspaceOpt = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Draw the workflow's steps, coloured by their state in the last build.

    Each step shows its IO handler and output sizes. svg and png need Graphviz (`dot`).
    """
    from axl.exec._history import last_run
    from axl.exec._session import open_store
    from axl.viz._dot import RENDERED, graphviz_exe, render, to_dot
    from axl.viz._mermaid import to_mermaid
    from axl.viz._model import from_ir

    chosen = _format(fmt, out)
    if chosen in RENDERED:
        graphviz_exe(chosen)  # before loading anything: a missing program is the first error
    ir, root = workflow_ir(label, module, params, workspace)
    # Outside a project there are no builds to colour by (and no .axl/ to create).
    run = None if root is None else last_run(open_store(root, cache_dir), ir.name)
    view = from_ir(ir, run)
    if chosen == "mermaid":
        data = to_mermaid(view).encode()
    elif chosen == "dot":
        data = to_dot(view).encode()
    else:
        data = render(to_dot(view), chosen)
    if out is not None:
        write_output(data, out)
        sys.stderr.write(f"wrote {out}\n")
        return
    if chosen == "png" and sys.stdout.isatty():
        raise UsageError("a PNG is binary: it is not printed to a terminal", hint="add --out g.png")
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
