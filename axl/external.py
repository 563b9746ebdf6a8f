"""Data from outside the graph: ``File`` and ``Dir``, passed to a step like any other argument.

Inside ``graph()``::

    p = self.params()
    stats = self.genre_stats(File(p["movie_data"]))        # a path held in the params
    raw = self.load(Dir("data/raw", glob="*.csv"))         # a folder, optionally filtered
    ref = self.join(File("s3://bucket/ref.parquet"))       # an object-store or web object

A declared input enters the consuming step's key by what it holds (a file's BLAKE3 digest, a
folder's Merkle digest, an object's checksum or version), never by its name, so editing the data
reruns exactly the steps that read it. Files a step opens without declaring them stay invisible.
"""

from __future__ import annotations

from typing import Any

from axl.dsl import OutputRef
from axl.errors import WorkflowError

#: URL schemes an external input may name; anything else is a local path.
REMOTE_SCHEMES = ("s3://", "http://", "https://")


class External:
    """Base of :class:`File` and :class:`Dir`: a placeholder for data outside the workflow.

    Args:
        path: A workspace-relative path, an absolute path, a URL (``s3://``, ``https://``), or a
            params output holding one of those (resolved when the params are known).
    """

    kind = ""
    __slots__ = ("glob", "path")

    def __init__(self, path: str | OutputRef[Any], /, *, glob: str | None = None) -> None:
        if not isinstance(path, (str, OutputRef)) or (isinstance(path, str) and not path):
            raise WorkflowError(
                f"{type(self).__name__}() takes a path, a URL or a params value, got {path!r}",
                hint=f'write {type(self).__name__}("data/movies.csv") or '
                f'{type(self).__name__}(p["movie_data"])',
            )
        if glob is not None and (not isinstance(glob, str) or not glob):
            raise WorkflowError(f"glob must be a non-empty pattern, got {glob!r}")
        self.path = path
        self.glob = glob

    def __repr__(self) -> str:
        extra = f", glob={self.glob!r}" if self.glob else ""
        return f"{type(self).__name__}({self.path!r}{extra})"

    def __bool__(self) -> bool:
        raise WorkflowError(
            f"bool() on {self!r} is not possible: its content is read when the step runs",
            hint="pass it to a step and use the path there",
        )


class File(External):
    """One file (``data/movies.csv``) or one remote object (``s3://bucket/key``, ``https://...``).

    The step receives a read-only path to exactly the bytes that were keyed (``input_mode``
    ``"path"``, the default for external inputs), or the value its extension's IO handler loads
    (``input_mode={"arg": "object"}``: ``.json``, ``.parquet``, ``.csv`` ...).
    """

    kind = "file"
    __slots__ = ()

    def __init__(self, path: str | OutputRef[Any], /) -> None:
        super().__init__(path)


class Dir(External):
    """A folder (``data/raw``) or an object-store prefix (``s3://bucket/prefix/``), optionally
    only the files matching ``glob`` (matched from the right against each file's relative path:
    ``*.csv`` takes CSV files at any depth, ``2024/*.csv`` only those directly in ``2024/``)."""

    kind = "dir"
    __slots__ = ()

    def __init__(self, path: str | OutputRef[Any], /, *, glob: str | None = None) -> None:
        super().__init__(path, glob=glob)
