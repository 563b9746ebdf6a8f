"""Digests of external inputs on this machine: a file's content, a folder's Merkle listing.

Every digest comes through the :class:`~axl.graph._loadcache.StatCache` that the load cache uses
(``path -> size, mtime_ns, ctime_ns, inode, digest``), so a warm build re-reads no unchanged data
and ``touch`` re-hashes but changes no key. A folder's files are hashed in parallel threads (BLAKE3
and file reads release the GIL; a big file also uses BLAKE3's own threads).

Folder rules, the same on every backend:

* the digest covers each file's path relative to the folder, its content and whether it is
  executable (any ``x`` bit); timestamps, owners and the order on disk do not count;
* empty folders do not count (as in git): a folder is the list of its files;
* symlinks are followed: a link counts as what it points to, under the link's own name; a link
  that points nowhere is an error; a folder reached twice through links is listed once;
* with ``glob``, only files whose relative path matches it (from the right) count.
"""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from axl.errors import UsageError
from axl.graph._loadcache import StatCache
from axl.hashing import file_digest, tree_listing
from axl.ir import Source


@dataclass(frozen=True)
class Listing:
    """A folder's files: ``(relative name, executable, digest)``, the listing's bytes and digest."""

    files: tuple[tuple[str, bool, str], ...]
    data: bytes
    digest: str


def local_path(src: Source, root: Path) -> Path:
    """Where a local source is: relative locations are under the workspace root."""
    path = Path(src.location)
    return path if path.is_absolute() else root / path


def bad_input(src: Source, step: str, problem: str, hint: str) -> UsageError:
    """The one error for an external input that cannot be read (exit 2, before any step runs)."""
    return UsageError(f"step {step!r}: input {src.kind} {src.location!r} {problem}", hint=hint)


def file_digest_of(src: Source, path: Path, stats: StatCache, step: str) -> tuple[str, int]:
    """The content digest and size of a file input.

    Raises:
        UsageError: It is missing, a folder, not a regular file, or unreadable.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise bad_input(
            src,
            step,
            f"does not exist ({path})",
            "create the file, or fix the path in graph() or in the params",
        ) from None
    except OSError as exc:
        raise bad_input(
            src, step, f"cannot be read ({exc.strerror})", "check its permissions"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise bad_input(
            src, step, f"is a folder ({path})", f"declare it with Dir({src.location!r})"
        )
    if not stat.S_ISREG(st.st_mode):
        raise bad_input(src, step, f"is not a regular file ({path})", "point it at a file")
    digest = stats.known(str(path), st)
    if digest is None:
        try:
            digest = file_digest(path)
        except OSError as exc:
            raise bad_input(
                src, step, f"cannot be read ({exc.strerror})", "check its permissions"
            ) from None
        stats.remember(str(path), st, digest)
    return digest, st.st_size


def list_folder(src: Source, path: Path, stats: StatCache, step: str, jobs: int = 0) -> Listing:
    """The Merkle listing of a folder input.

    Raises:
        UsageError: It is missing, a file, unreadable, or holds a dangling link or a special file.
    """
    if not path.is_dir():
        problem = "is a file" if path.exists() else "does not exist"
        hint = f"declare it with File({src.location!r})" if path.exists() else "create the folder"
        raise bad_input(src, step, f"{problem} ({path})", hint)
    found = walk_folder(src, path, step)
    files: list[tuple[str, bool, str]] = []
    todo: list[tuple[str, str, os.stat_result]] = []
    for rel, full, st in found:
        digest = stats.known(full, st)
        if digest is None:
            todo.append((rel, full, st))
        else:
            files.append((rel, bool(st.st_mode & 0o111), digest))
    if todo:
        files.extend(_hash_all(src, todo, stats, step, jobs))
    data, digest = tree_listing(files)
    return Listing(tuple(sorted(files)), data, digest)


def walk_folder(src: Source, top: Path, step: str) -> list[tuple[str, str, os.stat_result]]:
    """``(relative POSIX name, path, stat)`` of every file, following links, each folder once."""
    seen: set[tuple[int, int]] = set()
    found: list[tuple[str, str, os.stat_result]] = []
    pattern = src.glob

    def failed(exc: OSError) -> None:
        raise bad_input(src, step, f"cannot be listed ({exc})", "check its permissions")

    for folder, dirs, names in os.walk(top, onerror=failed, followlinks=True):
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []  # a link loop, or a folder linked twice: its files are already listed
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        rel_folder = Path(folder).relative_to(top).as_posix()
        for name in sorted(names):
            rel = name if rel_folder == "." else f"{rel_folder}/{name}"
            if pattern is not None and not PurePosixPath(rel).match(pattern):
                continue
            full = os.path.join(folder, name)
            try:
                fst = os.stat(full)
            except OSError:
                raise bad_input(
                    src,
                    step,
                    f"holds {rel}, a link that points nowhere",
                    "remove the link or restore what it points to",
                ) from None
            if not stat.S_ISREG(fst.st_mode):
                raise bad_input(
                    src,
                    step,
                    f"holds {rel}, which is not a regular file",
                    "keep only files and folders in an input folder",
                )
            found.append((rel, full, fst))
    return found


def _hash_all(
    src: Source,
    todo: list[tuple[str, str, os.stat_result]],
    stats: StatCache,
    step: str,
    jobs: int,
) -> list[tuple[str, bool, str]]:
    def one(item: tuple[str, str, os.stat_result]) -> tuple[str, bool, str]:
        rel, full, st = item
        try:
            digest = file_digest(full)
        except OSError as exc:
            raise bad_input(
                src,
                step,
                f"holds {rel}, which cannot be read ({exc.strerror})",
                "check its permissions",
            ) from None
        stats.remember(full, st, digest)
        return rel, bool(st.st_mode & 0o111), digest

    # One thread per core: reading from the page cache and hashing both release the GIL.
    workers = jobs or os.cpu_count() or 1
    if len(todo) == 1 or workers == 1:
        return [one(item) for item in todo]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, todo))


def changed_files(old: Listing | None, new: Listing) -> dict[str, list[str]]:
    """What differs between two listings of one folder: names changed, added, removed."""
    before = {name: (x, d) for name, x, d in (old.files if old else ())}
    after = {name: (x, d) for name, x, d in new.files}
    return {
        "changed": sorted(n for n in after if n in before and before[n] != after[n]),
        "added": sorted(n for n in after if n not in before),
        "removed": sorted(n for n in before if n not in after),
    }


def parse_listing(data: bytes) -> Listing | None:
    """A listing read back from its bytes (the CAS keeps them for ``axl explain``)."""
    import json

    try:
        raw = json.loads(data)
        files = tuple((str(n), x == "x", str(d)) for n, x, d in raw["files"])
    except (ValueError, KeyError, TypeError):
        return None
    return Listing(files, data, "")
