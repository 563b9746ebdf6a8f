"""The load cache: what loading a workflow target produced, reused while its sources are unchanged.

Loading a workflow means importing the user's module (and with it pandas, torch, ...), tracing
``graph()`` into IR and hashing the code each step reaches. All of that is a function of source
files, so a null build need not do it again: an :class:`Entry` keeps the IR and every node's code
key part next to the content digests of every file the load read (project modules, the params
file, the BUILD file, ``uv.lock``, axl's own loading code). While each digest still matches, the
entry is the load, and ``axl build`` imports nothing of the user's.

Digests come from a :class:`StatCache` (``path -> size, mtime, ctime, inode, digest``, as DVC and
git keep), so unchanged files are not even read. A file whose stat changed is hashed again, and
only a changed *digest* invalidates: ``touch`` does not force a reload. A file modified within
:data:`RACY_SECONDS` of being hashed is not trusted by stat (its mtime could repeat after a
second edit in the same clock tick); it is re-hashed until it is older.

Layout, under the cache folder: ``load/stat.json`` and ``load/<identity digest>.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axl.hashing import file_digest, key_digest

#: Bump when the entry layout changes; older entries are then ignored.
FORMAT = 1
#: Files changed more recently than this are re-hashed rather than trusted by their stat.
RACY_SECONDS = 2.0
#: The stat cache is cleared when it grows past this many paths (it is only a cache).
_MAX_STAT_ENTRIES = 200_000


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


class StatCache:
    """Content digests of files, trusted while their stat is unchanged.

    Args:
        path: The JSON file it persists to.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._dirty = False
        self._entries: dict[str, list[Any]] = {}
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_bytes())
            if isinstance(data, dict) and data.get("format") == FORMAT:
                self._entries = data.get("files", {})

    def digest(self, path: str) -> str | None:
        """The content digest of the file at ``path``; ``None`` when it does not exist."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        known = self.known(path, st)
        if known is not None:
            return known
        try:
            digest = file_digest(path)
        except OSError:
            return None
        self.remember(path, st, digest)
        return digest

    def known(self, path: str, st: os.stat_result) -> str | None:
        """The digest recorded for ``path`` if its stat is still ``st``, else ``None``."""
        entry = self._entries.get(path)
        if entry is not None and entry[:4] == [
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_ino,
        ]:
            return str(entry[4])
        return None

    def remember(self, path: str, st: os.stat_result, digest: str) -> None:
        """Record ``digest`` for ``path`` as of ``st`` (unless the file is too fresh to trust)."""
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > RACY_SECONDS * 1e9:
            self._entries[path] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, digest]
            self._dirty = True
        elif self._entries.pop(path, None) is not None:
            self._dirty = True

    def save(self) -> None:
        """Persist new stats (atomically; concurrent writers just lose some cache entries)."""
        if not self._dirty:
            return
        if len(self._entries) > _MAX_STAT_ENTRIES:
            self._entries = {}
        data = {"format": FORMAT, "files": self._entries}
        with contextlib.suppress(OSError):
            _write_atomic(self.path, json.dumps(data, separators=(",", ":")).encode())
        self._dirty = False


@dataclass
class Entry:
    """One target's load: its IR (as :func:`axl.ir.to_dict` data) and each node's code part.

    ``code`` maps node name -> index into ``tables`` (steps sharing code share one table).
    """

    identity: dict[str, Any]
    files: dict[str, str | None]
    ir: dict[str, Any]
    tables: list[dict[str, str]] = field(default_factory=list)
    code: dict[str, int] = field(default_factory=dict)

    def code_of(self, node: str) -> dict[str, str]:
        return self.tables[self.code[node]]

    @staticmethod
    def make(
        identity: dict[str, Any],
        files: dict[str, str | None],
        ir: dict[str, Any],
        code: dict[str, dict[str, str]],
    ) -> Entry:
        entry = Entry(identity, dict(sorted(files.items())), ir)
        seen: dict[str, int] = {}
        for node, table in code.items():
            canon = json.dumps(table, sort_keys=True)
            if canon not in seen:
                seen[canon] = len(entry.tables)
                entry.tables.append(table)
            entry.code[node] = seen[canon]
        return entry


def identity_of(**fields: Any) -> dict[str, Any]:
    """What a load's result depends on besides file contents: the caller's fields plus this
    interpreter and axl (a different venv can resolve imports, and so IO handlers, differently)."""
    from axl import __version__
    from axl.ir import IR_VERSION

    return {
        **fields,
        "format": FORMAT,
        "axl": __version__,
        "ir_version": IR_VERSION,
        "python": sys.version,
        "prefix": sys.prefix,
    }


class LoadCache:
    """The entries of one cache folder.

    Args:
        folder: ``<cache dir>/load``.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stats = StatCache(folder / "stat.json")

    def _path(self, identity: dict[str, Any]) -> Path:
        return self.folder / f"{key_digest('load-entry', identity)}.json"

    def lookup(self, identity: dict[str, Any]) -> tuple[Entry | None, str]:
        """The entry for ``identity`` if every file it read is unchanged; else why not."""
        try:
            data = json.loads(self._path(identity).read_bytes())
        except (OSError, ValueError):
            return None, "no earlier load"
        if not isinstance(data, dict) or data.get("identity") != identity:
            return None, "no earlier load"
        try:
            entry = Entry(data["identity"], data["files"], data["ir"], data["tables"], data["code"])
        except (KeyError, TypeError):
            return None, "the load cache entry is unreadable"
        for path, digest in entry.files.items():
            now = self.stats.digest(path)
            if now != digest:
                return None, f"{_shown(path)} {'was deleted' if now is None else 'changed'}"
        return entry, "sources unchanged"

    def store(self, entry: Entry) -> None:
        """Persist ``entry`` (atomically)."""
        data = {
            "identity": entry.identity,
            "files": entry.files,
            "ir": entry.ir,
            "tables": entry.tables,
            "code": entry.code,
        }
        # Only a cache: a full or read-only cache folder is reported where it matters (the
        # build's outputs), not here.
        with contextlib.suppress(OSError):
            _write_atomic(self._path(entry.identity), json.dumps(data, sort_keys=True).encode())

    def digest(self, path: str) -> str | None:
        """The current digest of a file, through the stat cache."""
        return self.stats.digest(path)

    def save(self) -> None:
        self.stats.save()


def _shown(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


# -- sharing loads through the remote cache -------------------------------------------------------
#
# A workspace with an empty cache (a fresh CI checkout) would import the user's module (pandas,
# torch, ...) just to learn the keys its remote hits are stored under. A load entry is a function
# of file contents, so it can be shared like a step result: its paths are written relative to an
# anchor (axl's package, the workspace, the interpreter's prefixes) and its identity drops what
# is machine-specific. A reader rebuilds absolute paths from its own anchors and uses the entry
# only if every listed file has the same digest here, the same check as a local entry.


def _anchors(root: Path) -> list[tuple[str, str]]:
    """Anchor name -> absolute folder, most specific first."""
    import axl

    found = [
        ("axl", str(Path(axl.__file__).resolve().parent)),
        ("root", str(root)),
        ("prefix", str(Path(sys.prefix).resolve())),
        ("base", str(Path(sys.base_prefix).resolve())),
    ]
    return [(name, folder.rstrip(os.sep) + os.sep) for name, folder in found]


def _anchored(path: str, anchors: list[tuple[str, str]]) -> str | None:
    for name, folder in anchors:
        if path.startswith(folder):
            return f"{name}:{Path(path[len(folder) :]).as_posix()}"
    return None


def _absolute(name: str, anchors: list[tuple[str, str]]) -> str | None:
    anchor, sep, rel = name.partition(":")
    folder = dict(anchors).get(anchor)
    if not sep or folder is None or rel.startswith("/") or ".." in rel.split("/"):
        return None
    return folder + rel.replace("/", os.sep)


def shared_identity(identity: dict[str, Any], root: Path) -> dict[str, Any] | None:
    """The machine-independent form of a load's identity: workspace paths made relative, the
    venv's location replaced by the platform. ``None`` when a path lies outside the workspace (a
    load of a file elsewhere is not shared)."""
    import platform

    base = str(root).rstrip(os.sep) + os.sep
    shared = {k: v for k, v in identity.items() if k not in ("root", "prefix")}
    for field_name in ("workflow", "params", "label"):
        value = shared.get(field_name)
        if not isinstance(value, str):
            continue
        # A label is a target label, "-m", or "-m@<folder>" (the folder a module name resolves in).
        head, sep, path = value.partition("@") if field_name == "label" else ("", "", value)
        if not path.startswith("/") or path.startswith("//"):
            continue
        if path.rstrip(os.sep) + os.sep == base:
            rel = "."
        elif path.startswith(base):
            rel = Path(path[len(base) :]).as_posix()
        else:
            return None
        shared[field_name] = f"{head}{sep}{rel}"
    shared["platform"] = f"{sys.platform}-{platform.machine()}"
    return shared


def share_entry(entry: Entry, identity: dict[str, Any], root: Path) -> dict[str, Any] | None:
    """``entry`` in its shareable form (``identity``: its :func:`shared_identity`), or ``None``
    when a file it read lies outside every anchor."""
    anchors = _anchors(root)
    files: dict[str, str | None] = {}
    for path, digest in entry.files.items():
        name = _anchored(path, anchors)
        if name is None:
            return None
        files[name] = digest
    return {
        "identity": identity,
        "files": dict(sorted(files.items())),
        "ir": entry.ir,
        "tables": entry.tables,
        "code": entry.code,
    }


def unshare_entry(
    data: Any, shared: dict[str, Any], identity: dict[str, Any], root: Path, cache: LoadCache
) -> Entry | None:
    """A shared entry made local (``shared``: the :func:`shared_identity` of the local
    ``identity``): its paths resolved against this machine's anchors and every file checked
    against its digest here. ``None`` when it does not apply."""
    if not isinstance(data, dict) or data.get("identity") != shared:
        return None
    anchors = _anchors(root)
    files: dict[str, str | None] = {}
    try:
        for name, digest in dict(data["files"]).items():
            path = _absolute(str(name), anchors)
            if path is None or not (digest is None or isinstance(digest, str)):
                return None
            files[path] = digest
        entry = Entry(identity, files, dict(data["ir"]), list(data["tables"]), dict(data["code"]))
    except (KeyError, TypeError, ValueError):
        return None
    if any(cache.digest(path) != digest for path, digest in entry.files.items()):
        return None
    return entry
