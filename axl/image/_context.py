"""The build context as a deterministic tar: equal inputs give equal bytes.

Docker's own context tar carries each file's mtime, owner and the order the disk lists them in;
``COPY`` then writes those times into the image. Here every entry has the same time
(``SOURCE_DATE_EPOCH``), owner ``0:0`` with no names, mode ``0644`` (``0755`` for executables and
folders), and entries are sorted, folders before their contents. What reaches a layer is then a
function of file contents and paths alone.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import IO

from axl.errors import UsageError
from axl.hashing import bytes_digest


def _info(
    name: str, mtime: int, *, size: int = 0, mode: int = 0o644, folder: bool = False
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if folder else tarfile.REGTYPE
    info.size = 0 if folder else size
    info.mode = 0o755 if folder else mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def folders_of(names: list[str]) -> list[str]:
    """Every parent folder of ``names`` (``a/b/c.py`` -> ``a``, ``a/b``), sorted."""
    found: set[str] = set()
    for name in names:
        found.update(str(p) for p in PurePosixPath(name).parents if str(p) != ".")
    return sorted(found)


def write_context(
    sources: Mapping[str, Path],
    generated: Mapping[str, bytes],
    *,
    mtime: int,
    digests: Mapping[str, str] | None = None,
) -> IO[bytes]:
    """Write the context tar into a temporary file and return it, rewound.

    Args:
        sources: Context path -> file to copy in.
        generated: Context path -> bytes to write.
        mtime: The time every entry gets.
        digests: Context path -> the content digest the image key was computed from; a file
            whose bytes differ now is refused (what is built must be what was keyed).

    Raises:
        UsageError: A file changed since it was keyed.
    """
    out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
    names = sorted({*sources, *generated})
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder in folders_of(names):
            tar.addfile(_info(folder, mtime, folder=True))
        for name in names:
            if name in generated:
                data = generated[name]
                tar.addfile(_info(name, mtime, size=len(data)), io.BytesIO(data))
                continue
            path = sources[name]
            data = path.read_bytes()
            if digests is not None and name in digests and bytes_digest(data) != digests[name]:
                out.close()
                raise UsageError(
                    f"{path} changed while the image was being built", hint="run it again"
                )
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            tar.addfile(_info(name, mtime, size=len(data), mode=mode), io.BytesIO(data))
    out.seek(0)
    return out
