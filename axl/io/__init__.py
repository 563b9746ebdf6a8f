"""IO handlers: how a step's output is written to a file and read back.

Handlers register by name (:func:`register`); :func:`get` finds one; :func:`detect` picks one for
a value whose step declared none, in the order documented in :mod:`axl.io._base` and
``docs/io.md``. Built in: ``pickle`` (the default), ``cloudpickle``, ``json``, ``text``, ``bytes``,
``npy``, ``parquet`` and ``arrow``; their classes are exported for subclassing or registering under
another name. Heavy formats (numpy, Parquet, Arrow) import their libraries inside their methods
only, so importing this package loads none of them.
"""

from axl.io._arrow import ArrowIOHandler
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
from axl.io._builtin import CloudpickleHandler, JsonHandler, PickleHandler
from axl.io._numpy import NpyHandler
from axl.io._parquet import ParquetIOHandler
from axl.io._text import BytesHandler, TextHandler

__all__ = [
    "AUTO",
    "ArrowIOHandler",
    "BytesHandler",
    "CloudpickleHandler",
    "IOHandler",
    "JsonHandler",
    "NpyHandler",
    "ParquetIOHandler",
    "PickleHandler",
    "TextHandler",
    "detect",
    "detect_annotation",
    "detection_order",
    "extension_of",
    "get",
    "names",
    "register",
]
