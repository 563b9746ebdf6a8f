"""The workflow's sources as one content-addressed bundle: what workers run is what was keyed.

The client packs every project source file the build keyed (the digests the manifest lists, see
:func:`axl.runtime._manifest.project_sources`) plus the files that define the environment
(``pyproject.toml``, ``uv.lock``) into a deterministic tar (sorted entries, fixed time, owner and
modes), stores it in the shared store like any blob, and sends its digest with every task. A
worker unpacks each bundle once, into a folder named by that digest; the runner there still
checks every source file against the manifest and refuses code that differs.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from axl.errors import RunnerError, UsageError
from axl.graph._deps import LOCKFILE_NAME, PYPROJECT_NAME
from axl.hashing import file_digest

#: Environment files shipped beside the sources (for ``uv sync --frozen`` on the workers).
ENV_FILES = (PYPROJECT_NAME, LOCKFILE_NAME)
_EPOCH = 315532800  # 1980-01-01, as the image builder uses


def bundle_bytes(root: Path, sources: Mapping[str, str]) -> bytes:
    """The bundle of ``sources`` (workspace-relative path -> keyed digest) under ``root``.

    Raises:
        UsageError: A source file changed on disk since it was keyed (the bundle would ship code
            the keys do not describe).
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        names = sorted({*sources, *(f for f in ENV_FILES if (root / f).is_file())})
        for rel in names:
            path = root / rel
            data = path.read_bytes()
            if rel in sources and file_digest(path) != sources[rel]:
                raise UsageError(
                    f"{rel} changed while the build ran; its steps were keyed with other bytes",
                    hint="build again once the edit is done",
                    file=path,
                )
            info = tarfile.TarInfo(rel)
            info.size, info.mtime, info.mode = len(data), _EPOCH, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpack(bundle: Path, dest: Path) -> Path:
    """Unpack ``bundle`` into ``dest`` (a folder named by its digest), once: a temporary folder
    renamed into place, so a concurrent task either sees the whole tree or unpacks its own.

    Raises:
        RunnerError: The bundle is not a valid tar or names a path outside ``dest``.
    """
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
    try:
        with tarfile.open(bundle, mode="r") as tar:
            for member in tar.getmembers():
                if not member.isfile() or member.name.startswith("/") or ".." in member.name:
                    raise RunnerError(f"source bundle {bundle.name} holds a bad entry")
            tar.extractall(tmp, filter="data")
        with contextlib.suppress(OSError):
            os.rename(tmp, dest)  # another task may have won the race: its tree is the same
    except (tarfile.TarError, OSError) as exc:
        raise RunnerError(f"cannot unpack source bundle {bundle.name}: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
