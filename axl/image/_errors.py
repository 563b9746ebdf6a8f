"""The image builder's error: an :class:`axl.errors.AxlError`, rendered as ``error:`` by the CLI."""

from __future__ import annotations

from axl.errors import AxlError


class ImageError(AxlError):
    """An image could not be built, tagged or pushed (the engine, the build or the registry)."""
