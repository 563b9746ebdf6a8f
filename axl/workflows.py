"""From a workflow spec (``module:Class``) to its IR: the one path every command shares."""

from __future__ import annotations

from pathlib import Path

from axl import ir as ir_mod
from axl._loader import find_workspace, load_workflow
from axl._params import load_params


def load_ir(
    spec: str,
    *,
    params_file: str | Path | None = None,
    workspace: str | Path | None = None,
) -> ir_mod.IRWorkflow:
    """Load the workflow class named by ``spec``, apply a params file and trace it into IR."""
    root = find_workspace(explicit=workspace)
    cls = load_workflow(spec, root)
    overrides = load_params(params_file) if params_file is not None else None
    return ir_mod.build_ir(cls, overrides, params_file)
