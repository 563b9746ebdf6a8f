"""The builder of the BUILD rule ``argo_workflow``: a workflow target -> its Argo YAML.

::

    argo_workflow(
        name = "churn_argo",
        workflow = ":churn",                      # an axl_workflow target
        image = ":churn_image",                   # an axl_image target, or "repo/name@sha256:..."
        kind = "Workflow",                        # or "WorkflowTemplate"
        artifact_repo = "axl/churn",              # S3 key prefix of the outputs (optional)
        artifact_repo_ref = "artifact-repositories:minio",  # which configured repository
        store = "s3://ml-artifacts/axl",          # inputs by digest from a store (optional)
        namespace = "ml",
    )

``axl build //examples:churn_argo`` writes ``workspace/targets/examples/churn_argo.yaml`` under
the workspace root (the YAML is the same bytes ``axl compile`` writes for the same inputs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axl.errors import BuildFileError

if TYPE_CHECKING:
    from axl.exec._targets import TargetContext, TargetResult
    from axl.graph._buildfile import Target

#: Where built Argo targets go, under the workspace root: ``<package>/<name>.yaml``.
OUTPUT_FOLDER = Path("workspace") / "targets"
#: Rule attributes passed to the emitter as options.
OPTION_ATTRS = ("kind", "namespace", "artifact_repo", "artifact_repo_ref", "store")


def build_argo_target(target: Target, ctx: TargetContext) -> TargetResult:
    """Build one ``argo_workflow`` target (its workflow and image targets are built already).

    Raises:
        BuildFileError: The workflow attribute names no ``axl_workflow``, or the image is not
            pinned.
        EmitError: The workflow cannot be emitted, or the YAML fails validation.
    """
    from axl.emit.argo import compile_target

    return build_emitted_target(target, ctx, "argo", OPTION_ATTRS, compile_target)


def build_emitted_target(
    target: Target,
    ctx: TargetContext,
    backend: str,
    option_attrs: tuple[str, ...],
    compile_target: Callable[[Any, dict[str, Any]], Any],
) -> TargetResult:
    """The one builder of the rules that emit a workflow for a cluster (``argo_workflow``,
    ``kfp_pipeline``): resolve the workflow target, load it with its params and run config,
    compile it with ``compile_target`` and write ``workspace/targets/<package>/<name>.yaml``."""
    from axl._runconfig import configured, refuse_both_params
    from axl.emit import load_bundle, write_output
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
    options: dict[str, Any] = {name: target.attrs.get(name) for name in option_attrs}
    options["image"] = image_reference(target, ctx)
    bundle, options = configured(bundle, backend, options, config)
    compiled = compile_target(bundle, options)
    rel = OUTPUT_FOLDER / target.label.package / f"{target.label.name}.yaml"
    write_output(ctx.root / rel, compiled.text)
    notes = "".join(f"\n  warning: {w}" for w in compiled.warnings)
    return TargetResult(
        target.label, target.kind.name, OK, reason=f"wrote {rel}: {compiled.summary}{notes}"
    )


def image_reference(target: Target, ctx: TargetContext) -> str | None:
    """The rule's ``image``: a pinned reference as written, or the one its image target built.

    Raises:
        BuildFileError: A reference not pinned by digest, or an image target that reported none.
    """
    from axl.graph._buildfile import display_path
    from axl.graph._labels import parse_label

    value = target.attrs.get("image")
    if value is None:
        return None
    where: dict[str, Any] = {"file": display_path(target.file), "line": target.line}
    text = str(value)
    if not is_label(text):
        if "@sha256:" not in text:
            raise BuildFileError(
                f"{target.label}: image {text!r} is not pinned by digest",
                hint='write image = "repo/name@sha256:<digest>", or name an axl_image target',
                **where,
            )
        return text
    label = parse_label(text, target.label.package)
    result = ctx.results.get(label)
    # An image target's result carries the reference it pushed or loaded, pinned by digest.
    pinned = getattr(result, "image", None)
    if not isinstance(pinned, str) or "@sha256:" not in pinned:
        raise BuildFileError(
            f"{target.label}: image target {label} reported no image pinned by digest",
            hint='build the image first, or write image = "repo/name@sha256:<digest>"',
            **where,
        )
    return pinned


def is_label(text: str) -> bool:
    """Whether an ``image`` value names a target (``:name``, ``//pkg:name``) or an image."""
    return text.startswith((":", "//"))
