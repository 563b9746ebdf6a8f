"""The local store: a content-addressed blob store (CAS) and an action cache (AC) in one folder.

Layout of the cache folder (default ``<workspace>/.axl``)::

    cas/ab/abcdef...        blobs, named by their BLAKE3 digest, read-only
    ac/12/1234...           action records (JSON), named by action key
    tmp/                    files being written; renamed into place when complete
    runs/                   one record per build

Every write goes to ``tmp/`` first and is renamed into place, so a reader (or a process killed
mid-write) never sees half a blob or half a record. A blob is trusted while its file's
``(size, mtime, inode)`` matches what was recorded when it was written or last verified; otherwise
it is hashed again, and a blob whose digest does not match is deleted and counts as a miss.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from axl.cache._lease import GcLock, Lease
from axl.cache._records import ActionResult
from axl.errors import CacheWriteError, cannot_write
from axl.hashing import file_digest

if TYPE_CHECKING:
    from axl.cache._tiered import TieredStore


class LocalStore:
    """A cache folder: CAS + AC. Safe for concurrent use by several processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cas_dir = root / "cas"
        self.ac_dir = root / "ac"
        self.tmp_dir = root / "tmp"
        self.runs_dir = root / "runs"
        for folder in (self.cas_dir, self.ac_dir, self.tmp_dir, self.runs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._trusted: dict[str, tuple[int, int, int]] = {}
        self._made: set[str] = set()
        self._cas = str(self.cas_dir)
        self._ac = str(self.ac_dir)
        #: Shared by lookups and lease registration, exclusive for gc (see axl.cache._lease).
        self.gc_lock = GcLock(root)

    def lease(self) -> Lease:
        """A running build's lease: gc keeps what the build uses and writes while it is held."""
        return Lease(self.root, self.gc_lock)

    def remote_tier(self) -> TieredStore | None:
        """The store itself when it reads and writes through to a remote cache; a plain local
        store has none (asking does not import the remote machinery)."""
        return None

    # -- content-addressed blobs --------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        return Path(self._blob(digest))

    def _blob(self, digest: str) -> str:
        # Plain strings on the hot path: a null build of 10,000 steps would spend more time
        # building Path objects than checking the files.
        return f"{self._cas}/{digest[:2]}/{digest}"

    def _record(self, key: str) -> str:
        return f"{self._ac}/{key[:2]}/{key}"

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        """Whether the blob exists and (when ``size`` is given) has that size. No hashing."""
        try:
            st = os.stat(self._blob(digest))
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def verified_blob(self, digest: str, stamp: tuple[int, int, int] | None = None) -> Path | None:
        """The blob's path if its content matches ``digest``, else ``None`` (a bad blob is
        deleted). ``stamp`` is a trusted ``(size, mtime_ns, inode)``; a match skips hashing."""
        blob = self._blob(digest)
        try:
            st = os.stat(blob)
        except FileNotFoundError:
            return None
        path = Path(blob)
        current = (st.st_size, st.st_mtime_ns, st.st_ino)
        if current in (stamp, self._trusted.get(digest)):
            return path
        if file_digest(path) != digest:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return None
        self._trusted[digest] = current
        return path

    def stamp(self, digest: str) -> tuple[int, int, int] | None:
        """The blob's ``(size, mtime_ns, inode)`` for later trust checks."""
        try:
            st = os.stat(self._blob(digest))
        except FileNotFoundError:
            return None
        return (st.st_size, st.st_mtime_ns, st.st_ino)

    def put_file(self, src: Path, digest: str | None = None) -> tuple[str, int]:
        """Move ``src`` (a file in :attr:`tmp_dir` or on the same filesystem) into the CAS.

        Returns:
            The blob's digest and size.
        """
        digest = digest or file_digest(src)
        size = src.stat().st_size
        dest = self.blob_path(digest)
        if self.has_blob(digest, size):
            src.unlink()
            # Now in use again: a concurrent gc must see it as new (axl.cache._lease).
            with contextlib.suppress(OSError):
                os.utime(dest)
            return digest, size
        self._ensure_dir(dest.parent)
        os.chmod(src, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(src, dest)
        st = dest.stat()
        self._trusted[digest] = (st.st_size, st.st_mtime_ns, st.st_ino)
        return digest, size

    def put_bytes(self, data: bytes, what: str = "a blob") -> tuple[str, int]:
        """Store ``data`` as a blob.

        Raises:
            CacheWriteError: The cache folder refused the write.
        """
        tmp: Path | None = None
        try:
            tmp = self.tmp_file()
            tmp.write_bytes(data)
            return self.put_file(tmp)
        except OSError as exc:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            if cannot_write(exc):
                raise CacheWriteError(self.root, exc, what, len(data)) from None
            raise

    def tmp_file(self, suffix: str = "") -> Path:
        """A fresh, empty path in :attr:`tmp_dir` (same filesystem as the CAS)."""
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, suffix=suffix)
        os.close(fd)
        return Path(name)

    def tmp_folder(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.tmp_dir))

    def iter_blobs(self) -> Iterator[Path]:
        for shard in sorted(self.cas_dir.iterdir()):
            if shard.is_dir():
                yield from sorted(shard.iterdir())

    # -- action cache -------------------------------------------------------------------------

    def record_path(self, key: str) -> Path:
        return Path(self._record(key))

    def get_record(self, key: str) -> ActionResult | None:
        """The record under ``key``, if present and readable (an unreadable one is removed)."""
        path = self._record(key)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return None
        record = ActionResult.from_bytes(raw)
        if record is None or record.key != key:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return None
        return record

    def put_record(self, record: ActionResult) -> None:
        """Store ``record`` under its key (atomically).

        Raises:
            CacheWriteError: The cache folder refused the write.
        """
        path = self.record_path(record.key)
        data = record.to_bytes()
        try:
            self._ensure_dir(path.parent)
            write_atomic(path, data, self.tmp_dir)
        except OSError as exc:
            if cannot_write(exc):
                what = f"the action record of step {record.step!r}"
                raise CacheWriteError(self.root, exc, what, len(data)) from None
            raise

    def _ensure_dir(self, folder: Path) -> None:
        # Each shard folder is made once per process, not checked on every write.
        key = str(folder)
        if key not in self._made:
            folder.mkdir(parents=True, exist_ok=True)
            self._made.add(key)

    def touch_record(self, key: str) -> None:
        """Mark a record as used now (least-recently-used garbage collection reads this)."""
        path = self._record(key)
        with contextlib.suppress(FileNotFoundError):
            # At most once an hour: the LRU order needs no finer grain, and a write per hit
            # would make every null build touch every record.
            if time.time() - os.stat(path).st_mtime > 3600:
                os.utime(path)

    def iter_records(self) -> Iterator[Path]:
        for shard in sorted(self.ac_dir.iterdir()):
            if shard.is_dir():
                yield from sorted(shard.iterdir())

    def clean_tmp(self, older_than: float = 3600.0) -> int:
        """Remove leftovers of killed processes from ``tmp/``; returns how many."""
        now = time.time()
        removed = 0
        for entry in self.tmp_dir.iterdir():
            try:
                if now - entry.lstat().st_mtime < older_than:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink()
                removed += 1
            except FileNotFoundError:
                continue
        return removed


def write_atomic(path: Path, data: bytes, tmp_dir: Path | None = None) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new content, never half."""
    folder = tmp_dir or path.parent
    fd, name = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
