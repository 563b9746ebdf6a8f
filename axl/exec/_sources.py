"""Settling a build's external inputs before any step runs: digests, snapshots, listings.

The step reads what was keyed, decided per kind:

* **a file** is snapshotted into the CAS (copied once; the copy's digest is the key, so an edit
  racing the build cannot pair new bytes with an old key) and the step gets a read-only path to
  the snapshot. A warm build finds the snapshot by the stat cache's digest and copies nothing;
* **a folder** is not copied (it may be huge): the step gets the folder's own path, and after the
  step ran its listing is taken again; if it no longer has the keyed digest the step fails and
  nothing is recorded;
* **a remote object** is keyed by the store's checksum or version (HEAD/List only) and
  downloaded into the CAS when a step that reads it runs, checked against the keyed version.

Any problem (missing file, folder where a file is expected, unreadable data, missing object or
credentials) is one :class:`~axl.errors.UsageError` naming the step, the input and the path or
URL: the build stops before any step runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axl.cache._local import LocalStore
from axl.errors import CacheWriteError, cannot_write
from axl.graph._loadcache import StatCache
from axl.graph._sources import file_digest_of, list_folder, local_path
from axl.ir import IRNode, Source
from axl.ir._sources import extension_of, handler_for


@dataclass(frozen=True)
class Resolved:
    """One external input as this build keyed it.

    Attributes:
        source: The IR's description.
        digest: What enters the key: content digest (file), listing digest (folder), or the
            digest of a remote object's identity (checksum / version / ETag).
        path: The local file or folder (absolute); ``None`` for a remote object.
        handler: The IO handler that loads it in object mode (``bytes`` when none does).
        extension: Its file extension (the path a step gets ends with it).
        remote: A remote object's identity (url, etag, version, checksum, size), else ``None``.
        warning: Why this input cannot be cached (an HTTP object without validators).
    """

    source: Source
    digest: str
    path: str | None
    handler: str
    extension: str
    remote: dict[str, Any] | None = None
    warning: str | None = None
    size: int = field(default=0, compare=False)

    def task_leaf(self, mode: str) -> dict[str, Any]:
        """The argument a :class:`~axl.runtime.StepTask` carries for this input."""
        src = {"kind": self.source.kind, "location": self.source.location}
        if self.source.glob:
            src["glob"] = self.source.glob
        if self.source.kind == "dir" and self.remote is None and self.path is not None:
            return {"folder": {"source": src, "digest": self.digest, "path": self.path}}
        leaf: dict[str, Any] = {
            "digest": self.digest,
            "handler": self.handler,
            "extension": self.extension,
            "mode": mode,
            "source": src,
        }
        if self.remote is not None:
            leaf["remote"] = self.remote
            return {"remote": leaf}
        return {"input": leaf}


def resolve_sources(
    nodes: list[IRNode], root: Path, store: LocalStore, *, jobs: int = 0
) -> dict[str, Resolved]:
    """Key every external input the ``nodes`` read (each one once), by :attr:`Source.ident`.

    Raises:
        UsageError: An input cannot be read; the message names the first step reading it.
    """
    readers: dict[str, tuple[Source, str]] = {}
    for node in nodes:
        for src in node.sources:
            readers.setdefault(src.ident, (src, node.name))
    if not readers:
        return {}
    stats = StatCache(store.root / "load" / "stat.json")
    resolved: dict[str, Resolved] = {}
    try:
        remote = [(src, step) for src, step in readers.values() if src.remote]
        for src, step in readers.values():
            if not src.remote:
                resolved[src.ident] = _local(src, step, root, store, stats, jobs)
        if remote:
            from axl.runtime._remote_inputs import resolve_remote

            for src, step in remote:
                got = resolve_remote(src, step)
                handler = handler_for(src.location) or "bytes"
                ext = extension_of(src.location) if src.kind == "file" else ""
                resolved[src.ident] = Resolved(
                    src, got.digest, None, handler, ext, remote=got.remote, warning=got.warning
                )
                if got.warning is not None:
                    import sys

                    sys.stderr.write(f"warning: {got.warning}\n")
    finally:
        stats.save()
    return resolved


def _local(
    src: Source, step: str, root: Path, store: LocalStore, stats: StatCache, jobs: int
) -> Resolved:
    path = local_path(src, root)
    if src.kind == "dir":
        listing = list_folder(src, path, stats, step, jobs)
        if not store.has_blob(listing.digest):
            store.put_bytes(listing.data)  # kept so `axl explain` can say which files changed
        return Resolved(src, listing.digest, str(path), "bytes", "", size=len(listing.files))
    digest, size = file_digest_of(src, path, stats, step)
    if not store.has_blob(digest, size):
        digest, size = _snapshot(path, store, stats)
    ext = extension_of(src.location)
    return Resolved(src, digest, str(path), handler_for(src.location) or "bytes", ext, size=size)


def _snapshot(path: Path, store: LocalStore, stats: StatCache) -> tuple[str, int]:
    """Copy ``path`` into the CAS; the copy's digest is returned (and is what gets keyed)."""
    st = os.stat(path)
    tmp: Path | None = None
    try:
        tmp = store.tmp_file()
        shutil.copyfile(path, tmp)
        digest, size = store.put_file(tmp)
    except OSError as exc:
        if cannot_write(exc):  # a full cache folder: axl's error, with the size and a hint
            raise CacheWriteError(store.root, exc, f"the snapshot of {path}", st.st_size) from None
        raise
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    if os.stat(path).st_mtime_ns == st.st_mtime_ns and size == st.st_size:
        stats.remember(str(path), st, digest)
    return digest, size
