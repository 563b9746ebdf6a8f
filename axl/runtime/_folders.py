"""External inputs at run time: re-checking an input folder, fetching a remote object.

A folder is read in place (it may be too big to copy), so the record is kept only if, after the
step ran, the folder still has the listing digest the step was keyed with: an edit racing the
step (before it read the folder or while it did) fails the step instead of caching a result under
a key that does not describe what it read. Unchanged files are not re-read (stat cache).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axl.cache._local import LocalStore
from axl.errors import AxlError
from axl.ir import Source


def folder_problem(leaf: dict[str, Any], store: LocalStore, step: str) -> str | None:
    """Why ``leaf``'s folder is no longer the one keyed, or ``None`` when it still is."""
    from axl.graph._loadcache import StatCache
    from axl.graph._sources import list_folder

    raw = leaf["source"]
    src = Source("dir", raw["location"], raw.get("glob"))
    stats = StatCache(store.root / "load" / "stat.json")
    try:
        now = list_folder(src, Path(leaf["path"]), stats, step).digest
    except AxlError as exc:
        now, detail = None, exc.message
    else:
        detail = ""
    stats.save()
    if now == leaf["digest"]:
        return None
    return (
        f"input dir {src.location!r} of step {step!r} changed while the build used it "
        f"(keyed as {leaf['digest'][:12]}, now {now[:12] if now else 'unreadable'}"
        f"{': ' + detail if detail else ''}); its result was not kept: build again"
    )


def folder_view(leaf: dict[str, Any], target: Path) -> str:
    """A folder holding only the files a ``glob`` selected (links to them, by relative name):
    the step sees exactly the files that were keyed, not their unkeyed neighbours."""
    import os

    from axl.graph._sources import walk_folder

    raw = leaf["source"]
    src = Source("dir", raw["location"], raw.get("glob"))
    for rel, full, _ in walk_folder(src, Path(leaf["path"]), ""):
        link = target / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.abspath(full), link)
    target.mkdir(parents=True, exist_ok=True)
    return str(target)


def fetch_remote(
    leaf: dict[str, Any], store: LocalStore, name: str, folder: Path
) -> dict[str, Any] | str:
    """Download a remote input into the CAS, checked against the version it was keyed with;
    returns an ``input`` leaf for an object, the path of ``folder`` holding a prefix's objects."""
    from axl.runtime._remote_inputs import download, download_prefix

    if leaf["source"]["kind"] == "dir":
        return download_prefix(leaf["remote"], store, name, folder)
    digest, size = download(leaf["remote"], store, name)
    return {
        "digest": digest,
        "handler": leaf["handler"],
        "extension": leaf["extension"],
        "mode": leaf["mode"],
        "size": size,
    }
