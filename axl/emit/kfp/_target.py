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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from axl.exec._targets import TargetContext, TargetResult
    from axl.graph._buildfile import Target

#: Rule attributes passed to the emitter as options.
OPTION_ATTRS = ("remote_cache", "cache_secret_ref")


def build_kfp_target(target: Target, ctx: TargetContext) -> TargetResult:
    """Build one ``kfp_pipeline`` target (its workflow and image targets are built already).

    Raises:
        BuildFileError: The workflow attribute names no ``axl_workflow``, or the image is not
            pinned.
        EmitError: The workflow cannot be emitted, or the spec fails the checks.
    """
    from axl.emit.argo._target import build_emitted_target
    from axl.emit.kfp import compile_target

    return build_emitted_target(target, ctx, "kfp", OPTION_ATTRS, compile_target)
