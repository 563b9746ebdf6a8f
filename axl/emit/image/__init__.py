"""The image emitter: a workflow's image spec -> a Dockerfile and the layout of its build context.

Pure (see :mod:`axl.emit.image._render`); :mod:`axl.image` loads workflows, keys images and
talks to the builder.
"""

from __future__ import annotations

from axl.emit.image._render import (
    CA_ARCNAME,
    DEFAULT_BASE,
    SOURCE_DATE_EPOCH,
    UV_VERSION,
    ImageSpec,
    Rendered,
    render,
)

__all__ = [
    "CA_ARCNAME",
    "DEFAULT_BASE",
    "SOURCE_DATE_EPOCH",
    "UV_VERSION",
    "ImageSpec",
    "Rendered",
    "render",
]
