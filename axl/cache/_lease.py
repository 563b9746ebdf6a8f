"""Leases: ``axl cache gc`` never removes what a running build uses or has just written.

A build holds a **lease** on the cache folder while it runs: a file ``leases/<pid>-<random>``
holding its start time, locked (``flock``, shared) for as long as the build's process lives, so a
build killed by SIGKILL leaves a lease that the next gc can tell is dead (it can lock it) and
removes.

``gc`` works under the folder's gc lock, taken exclusively; a build registers its lease, and
looks steps up (read the record, verify its blobs, touch it), under the same lock taken shared.
While a lease is live, gc keeps every record and every blob whose mtime is later than the oldest
live lease's start minus :data:`TOUCH_INTERVAL`:

- what a build wrote (blobs, then records) is newer than its start;
- what a build looked up was touched then, and a touch moves the mtime unless it moved less
  than :data:`TOUCH_INTERVAL` before (hence the margin);
- a blob a build stores that exists already is touched as well (``LocalStore.put_file``);
- a blob a kept record references is kept with it.

Between a lookup and the use of what it found, nothing can go: the lookup's touch and gc's
choice are ordered by the lock. Without live leases gc works on the whole store.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from axl.errors import CacheWriteError, cannot_write

#: ``LocalStore.touch_record`` moves a record's mtime at most once per this many seconds.
TOUCH_INTERVAL = 3600.0


class GcLock:
    """The cache folder's gc lock (``gc.lock``): exclusive for gc, shared for builds."""

    def __init__(self, root: Path) -> None:
        self.path = root / "gc.lock"
        self._fd = -1
        self._pid = -1
        self._depth = 0

    def _open(self) -> int:
        # A forked worker must not share the parent's open file: an unlock there would unlock
        # the parent (flock locks belong to the open file, which fork shares).
        if self._pid != os.getpid():
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                if cannot_write(exc):
                    raise CacheWriteError(self.path.parent, exc, "the gc lock file", None) from None
                raise
            self._pid = os.getpid()
        return self._fd

    @contextlib.contextmanager
    def held(self, *, exclusive: bool = False) -> Iterator[None]:
        """Hold the lock (re-entrant: an inner ``held()`` of the same kind costs nothing, so a
        scheduler can hold it across a batch of lookups)."""
        if self._depth and self._pid == os.getpid():
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            fcntl.flock(fd, fcntl.LOCK_UN)


class Lease:
    """A running build's claim on the cache folder (a context manager)."""

    def __init__(self, root: Path, lock: GcLock) -> None:
        self.folder = root / "leases"
        self._lock = lock
        self._fd = -1
        self._path: Path | None = None

    def __enter__(self) -> Lease:
        path = self.folder / f"{os.getpid()}-{os.urandom(4).hex()}"
        with self._lock.held():
            try:
                self.folder.mkdir(exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(fd, fcntl.LOCK_SH)
                os.write(fd, repr(time.time()).encode())
            except OSError as exc:
                if cannot_write(exc):
                    root = self.folder.parent
                    raise CacheWriteError(root, exc, "the build's lease", 32) from None
                raise
        self._fd, self._path = fd, path
        return self

    def __exit__(self, *exc: object) -> None:
        if self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            os.close(self._fd)
            self._path = None


def oldest_live_lease(root: Path) -> float | None:
    """The start time of the oldest running build's lease (``None``: none is running).

    Dead leases (their process is gone, so their lock is free) are removed. Call under the gc
    lock held exclusively.
    """
    folder = root / "leases"
    oldest: float | None = None
    if not folder.is_dir():
        return None
    for path in folder.iterdir():
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                started = _started(fd)
                oldest = started if oldest is None else min(oldest, started)
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # its build died without letting go
        finally:
            os.close(fd)
    return oldest


def _started(fd: int) -> float:
    try:
        return float(os.pread(fd, 64, 0).decode() or 0.0)
    except ValueError:
        # Locked but not yet written (a build registering right now): it started just now.
        return time.time()
