"""IO handlers: how a step's output is written to a file and read back.

Handlers register by name (:func:`register`); :func:`get` finds one; :func:`detect` picks one for
a value whose step declared none, in the order documented in :mod:`axl.io._base` and
``docs/io.md``. Built in: ``pickle`` (the default), ``cloudpickle``, ``json``, ``text``, ``bytes``,
``npy``, ``parquet`` and ``arrow``. Heavy formats (numpy, Parquet, Arrow) import their libraries
only when used.
"""

from axl.io._base import (
    AUTO,
    IOHandler,
    detect,
    detect_annotation,
    detection_order,
    extension_of,
    get,
    names,
    register,
)

__all__ = [
    "AUTO",
    "IOHandler",
    "detect",
    "detect_annotation",
    "detection_order",
    "extension_of",
    "get",
    "names",
    "register",
]
