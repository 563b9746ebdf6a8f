"""The builder of the BUILD rule ``kfp_pipeline``: a workflow target -> its KFP pipeline spec.

::

    kfp_pipeline(
        name = "churn_kfp",
        workflow = ":churn",                      # an axl_workflow target
        image = ":churn_image",                   # an axl_image target, or "repo/name@sha256:..."
        remote_cache = "http://axl-cache.ci.svc:8080/axl",   # optional
        cache_secret_ref = "axl-cache:secret",    # optional
        config = "prod.yaml",                     # a run config (default: the workflow's)
    )

``axl build //examples:churn_kfp`` writes ``workspace/targets/examples/churn_kfp.yaml`` under the
workspace root (the same bytes ``axl compile --target kfp`` writes for the same inputs).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from axl.errors import BuildFileError

if TYPE_CHECKING:
    from axl.exec._targets import TargetContext, TargetResult
    from axl.graph._buildfile import Target

#: Where built KFP targets go, under the workspace root: ``<package>/<name>.yaml``.
OUTPUT_FOLDER = Path("workspace") / "targets"
#: Rule attributes passed to the emitter as options.
OPTION_ATTRS = ("remote_cache", "cache_secret_ref")


def build_kfp_target(target: Target, ctx: TargetContext) -> TargetResult:
    """Build one ``kfp_pipeline`` target (its workflow and image targets are built already).

    Raises:
        BuildFileError: The workflow attribute names no ``axl_workflow``, or the image is not
            pinned.
        EmitError: The workflow cannot be emitted, or the spec fails the checks.
    """
    from axl._runconfig import configured, refuse_both_params
    from axl.emit import load_bundle, write_output
    from axl.emit.argo._target import image_reference
    from axl.emit.kfp import compile_target
    from axl.exec._targets import OK, TargetResult, target_config, target_params, workflow_spec
    from axl.graph._buildfile import display_path
    from axl.graph._labels import parse_label

    label = parse_label(str(target.attrs["workflow"]), target.label.package)
    workflow = ctx.graph.target(label, wanted_by=target)
    if workflow.kind.name != "axl_workflow":
        where: dict[str, Any] = {"file": display_path(target.file), "line": target.line}
        raise BuildFileError(
            f"{target.label}: workflow {label} is not an axl_workflow (it is {workflow.kind.name})",
            **where,
        )
    params = target_params(workflow)
    config = ctx.config or target_config(target) or target_config(workflow)
    refuse_both_params(params, config)
    bundle = load_bundle(workflow_spec(workflow, ctx.root), params_file=params, workspace=ctx.root)
    options: dict[str, Any] = {name: target.attrs.get(name) for name in OPTION_ATTRS}
    options["image"] = image_reference(target, ctx)
    bundle, options = configured(bundle, "kfp", options, config)
    compiled = compile_target(bundle, options)
    rel = OUTPUT_FOLDER / target.label.package / f"{target.label.name}.yaml"
    write_output(ctx.root / rel, compiled.text)
    notes = "".join(f"\n  warning: {w}" for w in compiled.warnings)
    return TargetResult(
        target.label, target.kind.name, OK, reason=f"wrote {rel}: {compiled.summary}{notes}"
    )
