"""Code typed into notebook cells (or an IPython prompt): where its source is, for code keys.

A function defined in a cell has no file on disk: IPython compiles each cell under a made-up
file name (ipykernel: ``/tmp/ipykernel_<pid>/<hash>.py``; the terminal: ``<ipython-input-N-...>``)
and keeps the source it compiled in :mod:`linecache` under that name. That source is exactly what
runs, so it is what a step's code key digests, parsed and normalised as for files by
:mod:`axl.graph._code`. The file name itself never enters a key (it changes with the kernel's
process id): cell code is identified as ``<cell>`` plus its qualified name, so a kernel restart
that runs the same cells gives the same keys.

Only code of ``__main__`` (what a notebook or a prompt defines) is looked up here: third-party
modules are never walked, even when a traceback has put their source in :mod:`linecache`.
"""

from __future__ import annotations

import linecache
import os
from types import FunctionType
from typing import Any

#: The file part of code identities for cell-defined code (``def:<cell>:Flow.train``).
CELL = "<cell>"


def cell_file(obj: Any) -> str | None:
    """The cell ``obj`` (a function or class of ``__main__``) was compiled from, if it is held in
    :mod:`linecache`; ``None`` for anything else."""
    if getattr(obj, "__module__", None) != "__main__":
        return None
    code = getattr(obj, "__code__", None)
    if code is None and isinstance(obj, type):
        # A class has no code object of its own: its methods were compiled from the same cell.
        for attr in vars(obj).values():
            fn = getattr(attr, "fn", attr)  # a StepDef: its function
            if isinstance(fn, (staticmethod, classmethod)):
                fn = fn.__func__
            if isinstance(fn, FunctionType):
                code = fn.__code__
                break
    if code is None:
        return None
    return code.co_filename if linecache.getlines(code.co_filename) else None


def cell_source(filename: str) -> str:
    """The source IPython compiled under ``filename``."""
    return "".join(linecache.getlines(filename))


def sibling_cells(filename: str) -> list[str]:
    """The cells of the same session as ``filename``, most recently cached first (to find the
    cell that assigned a module-level constant)."""
    if filename.startswith("<ipython-input-"):
        same = [f for f in linecache.cache if f.startswith("<ipython-input-")]
    elif os.path.basename(os.path.dirname(filename)).startswith("ipykernel_"):
        folder = os.path.dirname(filename)
        same = [f for f in linecache.cache if os.path.dirname(f) == folder]
    else:  # a script outside the workspace: one file, no siblings
        same = []
    return [filename, *[f for f in reversed(same) if f != filename]]
