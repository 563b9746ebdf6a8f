"""The builder of the BUILD rule ``dagster_job``: a workflow target -> its Dagster module.

::

    dagster_job(
        name = "churn_dagster",
        workflow = ":churn",                      # an axl_workflow target
    )

``axl build //examples:churn_dagster`` writes ``workspace/targets/examples/churn_dagster.py``
under the workspace root (the same bytes ``axl compile --target dagster`` writes for the same
inputs); ``dagster dev -f`` that file serves the job.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from axl.errors import BuildFileError

if TYPE_CHECKING:
    from axl.exec._targets import TargetContext, TargetResult
    from axl.graph._buildfile import Target

#: Where built Dagster targets go, under the workspace root: ``<package>/<name>.py``.
OUTPUT_FOLDER = Path("workspace") / "targets"


def build_dagster_target(target: Target, ctx: TargetContext) -> TargetResult:
    """Build one ``dagster_job`` target (its workflow target is built already).

    Raises:
        BuildFileError: The workflow attribute names no ``axl_workflow``, or an image is given.
    """
    from axl._runconfig import configured, refuse_both_params
    from axl.emit import load_bundle, write_output
    from axl.emit.dagster import compile_dagster
    from axl.exec._targets import OK, TargetResult, target_config, target_params, workflow_spec
    from axl.graph._buildfile import display_path
    from axl.graph._labels import parse_label

    where: dict[str, Any] = {"file": display_path(target.file), "line": target.line}
    if target.attrs.get("image") is not None:
        raise BuildFileError(
            f"{target.label}: dagster_job does not take an image yet; its ops run in the "
            "Dagster code location's environment",
            hint="remove the image attribute",
            **where,
        )
    label = parse_label(str(target.attrs["workflow"]), target.label.package)
    workflow = ctx.graph.target(label, wanted_by=target)
    if workflow.kind.name != "axl_workflow":
        raise BuildFileError(
            f"{target.label}: workflow {label} is a {workflow.kind.name}, not an axl_workflow",
            **where,
        )
    params = target_params(workflow)
    config = ctx.config or target_config(workflow)
    refuse_both_params(params, config)
    bundle = load_bundle(workflow_spec(workflow, ctx.root), params_file=params, workspace=ctx.root)
    bundle, _ = configured(bundle, "dagster", {}, config)
    compiled = compile_dagster(bundle)
    rel = OUTPUT_FOLDER / target.label.package / f"{target.label.name}.py"
    write_output(ctx.root / rel, compiled.text)
    notes = "".join(f"\n  warning: {w}" for w in compiled.warnings)
    return TargetResult(
        target.label, target.kind.name, OK, reason=f"wrote {rel}: {compiled.summary}{notes}"
    )
