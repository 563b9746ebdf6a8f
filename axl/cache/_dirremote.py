"""A shared folder as a remote cache (an NFS mount, a synced drive, a CI cache volume).

Layout: ``<folder>/ac/<key>`` and ``<folder>/cas/<sha256>``, the same names as the HTTP protocol,
so a folder served by nginx and the folder itself are interchangeable. Writes go to a temporary
file in the destination folder and are renamed into place, so readers on other machines see a
whole entry or none.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from axl.cache._remote import DEFAULT_TIMEOUT, RemoteError

_NAME = re.compile(r"[0-9a-f]{16,128}")


class DirRemote:
    """A remote cache in a folder: a path or ``file:///path``."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        del timeout  # a local filesystem call has no timeout to set
        parts = urlsplit(url)
        raw = unquote(parts.path) if parts.scheme == "file" else url
        self.root = Path(raw).expanduser().resolve()
        self.url = str(self.root)

    def _file(self, kind: str, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise RemoteError(f"{name!r} is not a key or digest")
        return self.root / kind / name

    def get_ac(self, key: str) -> bytes | None:
        try:
            return self._file("ac", key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RemoteError(f"the remote cache folder {self.url} failed: {exc}") from None

    def put_ac(self, key: str, data: bytes) -> None:
        self._write(self._file("ac", key), lambda f: f.write(data))

    def has_cas(self, digest: str) -> bool:
        return self._file("cas", digest).is_file()

    def get_cas(self, digest: str, dest: Path) -> bool:
        try:
            shutil.copyfile(self._file("cas", digest), dest)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise RemoteError(f"the remote cache folder {self.url} failed: {exc}") from None
        return True

    def put_cas(self, digest: str, src: Path) -> None:
        def copy(f: BinaryIO) -> None:
            with src.open("rb") as source:
                shutil.copyfileobj(source, f)

        self._write(self._file("cas", digest), copy)

    def close(self) -> None:
        return None

    def _write(self, dest: Path, fill: Callable[[BinaryIO], object]) -> None:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    fill(f)
                os.replace(name, dest)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name)
                raise
        except OSError as exc:
            raise RemoteError(f"the remote cache folder {self.url} failed: {exc}") from None
