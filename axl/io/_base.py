"""The IOHandler protocol, the registry of handlers by name, and automatic detection.

Detection order (:func:`detect`), first match wins; every test is on the value's exact type, so a
subclass (a ``str`` enum, a GeoDataFrame) falls through to the default:

1. ``parquet``: a pandas ``DataFrame`` that Parquet stores faithfully (unique ``str`` or ``int``
   column labels, JSON-able ``attrs``, columns of types that round-trip);
2. ``arrow``: a pyarrow ``Table``, or a ``DataFrame`` that Arrow IPC stores faithfully but Parquet
   does not (categoricals of numbers or dates);
3. ``npy``: a numpy ``ndarray`` without Python objects in it;
4. ``bytes``: ``bytes``;
5. ``text``: ``str`` (encodable as UTF-8);
6. ``json``: ``None``, ``bool``, ``int``, finite ``float``, and ``dict`` (``str`` keys) / ``list``
   trees of those and ``str``, up to :data:`axl.io._builtin.JSON_MAX_NODES` nodes;
7. otherwise the workflow's default handler (``pickle`` unless the workflow says otherwise).

A return annotation pins a handler before anything runs (:func:`detect_annotation`): pandas
``DataFrame`` -> parquet, pyarrow ``Table`` -> arrow, numpy ``ndarray`` -> npy, ``bytes``, ``str``.
Annotations are matched by name (``"pd.DataFrame"``, ``"DataFrame"``, ``pandas.DataFrame``), so
nothing is imported; a declared ``io_handler`` always wins over both.

Handlers import their heavy libraries (numpy, pandas, pyarrow) inside their methods only: importing
:mod:`axl.io` and detecting the handler of a plain value never loads them.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import threading
import typing
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from axl.errors import RunnerError, WorkflowError

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
# Detection order: (rank, registration number, name), sorted. Kept explicit (not registry order)
# so that detection is deterministic whatever order the handler modules are imported in.
_DETECTION: list[tuple[int, int, str]] = []
_REGISTRATIONS = itertools.count()
# Return annotations that pin a handler without running the step: "module.Qualname" -> handler.
_ANNOTATIONS: dict[str, str] = {}
# The modules holding the handlers axl ships; imported together on first use of the registry.
_BUILTIN_MODULES = ("_builtin", "_text", "_numpy", "_parquet", "_arrow")
_BUILTINS_LOADED = threading.Event()
_BUILTINS_LOCK = threading.RLock()


def register(
    handler: IOHandler,
    *,
    detect_rank: int | None = None,
    annotations: tuple[str, ...] = (),
) -> IOHandler:
    """Register ``handler`` under its name, optionally for detection and for annotations.

    Args:
        handler: The handler; a later registration under the same name replaces it.
        detect_rank: Where :func:`detect` asks this handler, lower first (ties: first registered
            first). ``None`` keeps it out of detection.
        annotations: Return annotations that pin this handler, as ``"module.Qualname"`` of the
            type and as the spellings seen in source (``"pd.DataFrame"``, ``"DataFrame"``).
    """
    _REGISTRY[handler.name] = handler
    _DETECTION[:] = [entry for entry in _DETECTION if entry[2] != handler.name]
    if detect_rank is not None:
        _DETECTION.append((detect_rank, next(_REGISTRATIONS), handler.name))
        _DETECTION.sort()
    for annotation in annotations:
        _ANNOTATIONS[annotation] = handler.name
    return handler


def _ensure_builtins() -> None:
    # Each module registers its handlers on import. A flag, not "is pickle registered?": a test
    # may import one module directly (for a constant) and that must not hide the others. A lock,
    # because executor threads may ask for handlers at once and a module shows in sys.modules
    # before it has finished registering.
    if _BUILTINS_LOADED.is_set():
        return
    with _BUILTINS_LOCK:
        for module in _BUILTIN_MODULES:
            importlib.import_module(f"axl.io.{module}")
        _BUILTINS_LOADED.set()


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


def detection_order() -> list[str]:
    """The names of the handlers :func:`detect` asks, in the order it asks them."""
    _ensure_builtins()
    return [name for _, _, name in _DETECTION]


def extension_of(name: str) -> str:
    """The file extension of handler ``name`` (empty for ``auto``, decided at run time)."""
    return "" if name == AUTO else get(name).extension


def detect(value: Any, default: str) -> IOHandler:
    """The handler for ``value``: the first in detection order that accepts it, else ``default``."""
    _ensure_builtins()
    for _, _, name in _DETECTION:
        handler = _REGISTRY[name]
        if handler.accepts(value):
            return handler
    return get(default)


def detect_annotation(annotation: Any) -> str | None:
    """The handler a return annotation pins, if any (by the type's qualified name, no import).

    Accepts the annotation object (``pd.DataFrame``, ``npt.NDArray[np.float64]``) or its source
    text, which is what ``from __future__ import annotations`` leaves (``"pd.DataFrame"``).
    """
    _ensure_builtins()
    if annotation is None:
        return None
    if isinstance(annotation, str):
        # "npt.NDArray[np.float64]" and "'pd.DataFrame'" name the same types as their heads.
        key = annotation.strip().strip("'\"").split("[", 1)[0].strip()
        return _ANNOTATIONS.get(key)
    annotation = typing.get_origin(annotation) or annotation
    key = f"{getattr(annotation, '__module__', '')}.{getattr(annotation, '__qualname__', '')}"
    return _ANNOTATIONS.get(key)


def type_name(value: Any) -> str:
    """``module.Qualname`` of the value's type, for messages (``builtins`` left out)."""
    cls = type(value)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def is_exact(value: Any, module: str, attr: str) -> bool:
    """Whether ``value``'s type is exactly ``module.attr``, without importing ``module``.

    A value of that type cannot exist unless its module was imported, so looking the module up in
    :data:`sys.modules` is enough and costs nothing when the library is not in use.
    """
    loaded = sys.modules.get(module)
    return loaded is not None and type(value) is getattr(loaded, attr, None)


def cannot_save(handler: str, value: Any, expected: str, reason: str = "") -> RunnerError:
    """The error a handler raises for a value it cannot write (faithfully)."""
    because = f": {reason}" if reason else ""
    return RunnerError(
        f"the {handler} IO handler cannot save a {type_name(value)}{because}",
        hint=f"the {handler} handler saves {expected}; return one, or declare another "
        "io_handler on the step (e.g. io_handler='pickle')",
    )


def require(handler: str, module: str) -> ModuleType:
    """Import ``module`` for ``handler``, or say how to install it.

    Raises:
        RunnerError: ``module`` is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise RunnerError(
            f"the {handler} IO handler needs {module.partition('.')[0]}, which is not installed",
            hint="install axl's data extra: pip install 'axl-build[data]'",
        ) from None
