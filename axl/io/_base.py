"""The IOHandler protocol and the registry of handlers by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from axl.errors import WorkflowError

#: The handler name meaning "pick one from the returned value's type at run time".
AUTO = "auto"


@runtime_checkable
class IOHandler(Protocol):
    """Writes values of some types to one file and reads them back.

    Attributes:
        name: The registry name (``"pickle"``, ``"parquet"``, ...).
        extension: The file extension without the dot (``"pkl"``, ``"parquet"``).
    """

    name: str
    extension: str

    def save(self, value: Any, path: Path) -> None:
        """Write ``value`` to ``path`` (the caller makes the write atomic)."""

    def load(self, path: Path) -> Any:
        """Read the value back from ``path``."""

    def accepts(self, value: Any) -> bool:
        """Whether automatic detection should pick this handler for ``value``."""

    def metadata(self, path: Path) -> dict[str, Any]:
        """Facts about a saved file worth showing a user (rows, columns, ...)."""


_REGISTRY: dict[str, IOHandler] = {}
# Detection order: the first handler whose accepts() says yes wins. Kept explicit (not registry
# order) so that detection is deterministic and documented in one place.
_DETECTION_ORDER: list[str] = []
# Return annotations that pin a handler without running the step: "module.Qualname" -> handler.
_ANNOTATIONS: dict[str, str] = {}


def register(
    handler: IOHandler,
    *,
    detect_rank: int | None = None,
    annotations: tuple[str, ...] = (),
) -> IOHandler:
    """Register ``handler`` under its name, optionally for detection and for annotations."""
    _REGISTRY[handler.name] = handler
    if detect_rank is not None and handler.name not in _DETECTION_ORDER:
        _DETECTION_ORDER.insert(min(detect_rank, len(_DETECTION_ORDER)), handler.name)
    for annotation in annotations:
        _ANNOTATIONS[annotation] = handler.name
    return handler


def _ensure_builtins() -> None:
    if "pickle" not in _REGISTRY:
        from axl.io import _builtin

        _ = _builtin


def get(name: str) -> IOHandler:
    """The handler registered as ``name``.

    Raises:
        WorkflowError: No such handler.
    """
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise WorkflowError(
            f"unknown IO handler {name!r}",
            hint=f"known handlers: {', '.join(names())}",
        ) from None


def names() -> list[str]:
    """The registered handler names, sorted."""
    _ensure_builtins()
    return sorted(_REGISTRY)


def extension_of(name: str) -> str:
    """The file extension of handler ``name`` (empty for ``auto``, decided at run time)."""
    return "" if name == AUTO else get(name).extension


def detect(value: Any, default: str) -> IOHandler:
    """The handler for ``value``: the first in detection order that accepts it, else ``default``."""
    _ensure_builtins()
    for name in _DETECTION_ORDER:
        handler = _REGISTRY[name]
        if handler.accepts(value):
            return handler
    return get(default)


def detect_annotation(annotation: Any) -> str | None:
    """The handler a return annotation pins, if any (by the type's qualified name, no import)."""
    _ensure_builtins()
    if annotation is None or isinstance(annotation, str):
        key = annotation or ""
    else:
        key = f"{getattr(annotation, '__module__', '')}.{getattr(annotation, '__qualname__', '')}"
    return _ANNOTATIONS.get(key)
