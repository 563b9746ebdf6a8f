"""The builder of the BUILD rule ``axl_image``: a workflow target -> its baked image.

::

    axl_image(
        name = "churn_image",
        workflow = ":churn",               # an axl_workflow target
        tag = "registry.example.com/churn", # REPO[:TAG] (default: the workflow's image repo)
        base = "python:3.11-slim-bookworm",
        system_packages = ["libgomp1"],
        extras = ["data"],                 # the project's optional dependencies to install
        groups = [],                       # dependency groups to install
        include = ["data/lookup.csv"],     # more files for the code layer (BUILD-relative)
        build_args = {"UV_INDEX_URL": "https://pypi.example.com/simple"},
        push = False,
    )

``ca_bundle`` and ``network`` are attributes too, but they describe the machine rather than the
image; ``$AXL_BUILD_CA_BUNDLE`` and ``$AXL_BUILD_NETWORK`` set them when the rule does not.

The target's output is the image: :class:`ImageTargetResult` carries the
:class:`axl.image.ImageResult`, and ``.image`` is the reference a cluster runs it by
(``REPO@sha256:...`` once pushed, else the content-addressed ``REPO:<key tag>``); the
``argo_workflow`` target that names this one pins it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from axl.errors import BuildFileError
from axl.exec._targets import OK, TargetResult

if TYPE_CHECKING:
    from axl.exec._targets import TargetContext
    from axl.graph._buildfile import Target
    from axl.image._result import ImageResult


@dataclass
class ImageTargetResult(TargetResult):
    """An ``axl_image`` target's result: the image it built or found."""

    image: str | None = None
    image_result: ImageResult | None = None

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        if self.image_result is not None:
            data["image"] = self.image_result.to_json()
        return data


def build_image_target(target: Target, ctx: TargetContext) -> ImageTargetResult:
    """Build one ``axl_image`` target (its workflow target is built already).

    Raises:
        BuildFileError: The workflow attribute names no ``axl_workflow``.
        AxlError: The image cannot be built (see :func:`axl.image.build_image`).
    """
    from axl.emit.image import DEFAULT_BASE
    from axl.exec._session import cache_dir_for
    from axl.exec._targets import workflow_spec
    from axl.graph._buildfile import display_path
    from axl.graph._labels import parse_label
    from axl.image import ImageOptions, build_image

    attrs = target.attrs
    label = parse_label(str(attrs["workflow"]), target.label.package)
    workflow = ctx.graph.target(label, wanted_by=target)
    if workflow.kind.name != "axl_workflow":
        raise BuildFileError(
            f"{target.label}: workflow {label} is a {workflow.kind.name}, not an axl_workflow",
            file=display_path(target.file),
            line=target.line,
        )
    ca_bundle = attrs.get("ca_bundle") or os.environ.get("AXL_BUILD_CA_BUNDLE") or None
    options = ImageOptions(
        tag=_text(attrs.get("tag")),
        base=_text(attrs.get("base")) or DEFAULT_BASE,
        system_packages=tuple(attrs.get("system_packages") or ()),
        extras=tuple(attrs.get("extras") or ()),
        groups=tuple(attrs.get("groups") or ()),
        include=tuple(_workspace_path(target, ctx, str(p)) for p in attrs.get("include") or ()),
        build_args=dict(attrs.get("build_args") or {}),
        ca_bundle=str(target.folder / str(ca_bundle)) if ca_bundle else None,
        network=_text(attrs.get("network")) or os.environ.get("AXL_BUILD_NETWORK") or None,
        push=bool(attrs.get("push", False)),
    )
    folder = ctx.load_cache.folder.parent if ctx.load_cache else cache_dir_for(ctx.root, None)
    result = build_image(
        workflow_spec(workflow, ctx.root), options, workspace=ctx.root, cache_dir=folder
    )
    return ImageTargetResult(
        target.label,
        target.kind.name,
        OK,
        reason=result.summary().strip().replace("\n", "; "),
        image=result.reference,
        image_result=result,
    )


def _workspace_path(target: Target, ctx: TargetContext, rel: str) -> str:
    """A path relative to the BUILD file's folder, made relative to the workspace root."""
    from axl.graph._buildfile import display_path

    path = (target.folder / rel).resolve()
    if not path.is_relative_to(ctx.root.resolve()):
        raise BuildFileError(
            f"{target.label}: include {rel} is outside the workspace",
            file=display_path(target.file),
            line=target.line,
        )
    return path.relative_to(ctx.root.resolve()).as_posix()


def _text(value: object) -> str | None:
    return str(value) if value else None
