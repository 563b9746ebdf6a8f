"""Baked images: a workflow, its locked dependencies and its code in one image, built by key.

::

    from axl.image import ImageOptions, build_image

    result = build_image("examples/churn_workflow.py:ChurnWorkflow", ImageOptions(tag="axl-churn"))
    result.reference  # "axl-churn@sha256:..." once pushed, else "axl-churn:<key tag>"

The Dockerfile comes from :mod:`axl.emit.image`; the key from :mod:`axl.image._key`. The
``axl_image`` BUILD rule builds through :func:`axl.image._target.build_image_target`, whose
result carries :func:`image_reference` for the Argo target that pins it.
"""

from __future__ import annotations

from typing import Any

from axl.image._build import ImageOptions, build_image, parse_build_args, split_reference
from axl.image._errors import ImageError
from axl.image._key import KEY_LABEL, image_key, key_tag
from axl.image._result import ImageResult

__all__ = [
    "KEY_LABEL",
    "ImageError",
    "ImageOptions",
    "ImageResult",
    "build_image",
    "image_key",
    "image_reference",
    "key_tag",
    "parse_build_args",
    "split_reference",
]


def image_reference(result: Any, *, pinned: bool = True) -> str | None:
    """The reference a cluster should run an image target's image by.

    Args:
        result: An :class:`ImageResult`, or a target result carrying one as ``.image_result``.
        pinned: Only a registry digest will do (``repo@sha256:...``); ``None`` when the image
            was not pushed. With ``pinned=False`` an unpushed image gives its key tag
            (``repo:<key tag>``, content-addressed, but only on the engine that built it).
    """
    image = result if isinstance(result, ImageResult) else getattr(result, "image_result", None)
    if not isinstance(image, ImageResult):
        return None
    if image.repo_digest:
        return image.repo_digest
    return None if pinned else image.tags[0]
