"""Loading a workflow through the load cache (shared by ``axl build`` and ``axl run local``).

While none of the files an earlier load read has changed, the IR and each step's code key part
come from :mod:`axl.graph._loadcache` and the user's module is imported only if some step must
actually run (``prepare``). Otherwise the module is imported, traced and hashed, and the result is
stored for next time.

With a remote cache, a load the local cache lacks is asked of the remote before importing
anything (a fresh CI checkout then runs no user code at all when every step is a remote hit), and
a fresh load is uploaded for the next machine: see "sharing loads" in :mod:`axl.graph._loadcache`.
The remote's entry is signed and checked like a step's record, and used only when every file it
lists has the same content here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axl import _loader
from axl.errors import LoadError
from axl.exec._engine import CodeProvider
from axl.graph._buildfile import display_path
from axl.graph._loadcache import (
    Entry,
    LoadCache,
    identity_of,
    share_entry,
    shared_identity,
    unshare_entry,
)
from axl.hashing import bytes_digest, key_digest
from axl.ir import IRWorkflow, from_dict, to_dict

if TYPE_CHECKING:
    from axl.cache._tiered import TieredStore


@dataclass
class Loaded:
    """A workflow ready for the engine. ``why``: "cached", or why it was loaded again."""

    ir: IRWorkflow
    code: CodeProvider
    prepare: Callable[[], None] | None
    why: str


def load_cached(
    spec: str,
    params: Path | None,
    *,
    label: str,
    extra_files: Sequence[Path],
    root: Path,
    cache: LoadCache | None,
    no_cache: bool = False,
    remote: TieredStore | None = None,
) -> Loaded:
    """Load ``spec`` with ``params``, reusing a cached load whose sources are unchanged.

    Args:
        spec: ``/abs/file.py:Class`` or ``module:Class``.
        params: The params file, if any.
        label: What names this load in the cache (a target label, or the ``-m`` spec).
        extra_files: Further files whose change must force a reload (the BUILD file).
        root: The workspace root.
        cache: The load cache (``None``: always load).
        no_cache: Load again even if the cache holds the load.
        remote: The build's store when it has a remote: loads are fetched from and shared
            through it.
    """
    identity = identity_of(
        label=label, workflow=spec, params=str(params) if params else None, root=str(root)
    )
    entry: Entry | None = None
    if cache is None:
        why = "the load cache is off"
    elif no_cache:
        why = "--no-cache was given"
    else:
        entry, why = cache.lookup(identity)
    source, shared = "cached", None
    if entry is None and cache is not None and remote is not None:
        shared = _shared(identity, root, cache)
        if shared is not None and not no_cache:
            entry = _fetch_shared(remote, shared, identity, root, cache)
            source = "cached (remote)"
    if entry is not None:
        ir = from_dict(entry.ir)
        return Loaded(ir, _table_code(entry), _importer(spec, root, ir, entry.files), source)
    ir, code, fresh = _load(spec, params, identity, extra_files, root, cache)
    if fresh is not None and shared is not None and remote is not None:
        _share(remote, shared, fresh, root)
    return Loaded(ir, code, None, why)


def _shared(
    identity: dict[str, Any], root: Path, cache: LoadCache
) -> tuple[dict[str, Any], str] | None:
    """A load's shared identity and its remote key, which adds the digest of the workflow's file
    so that branches differing there keep separate entries rather than replacing each other's.
    ``None`` when the load cannot be shared."""
    shared = shared_identity(identity, root)
    if shared is None:
        return None
    module = str(identity.get("workflow", "")).rpartition(":")[0]
    main = cache.digest(module) if module.endswith(".py") else None
    return shared, key_digest("shared-load", {"identity": shared, "main": main})


def _fetch_shared(
    remote: TieredStore,
    shared: tuple[dict[str, Any], str],
    identity: dict[str, Any],
    root: Path,
    cache: LoadCache,
) -> Entry | None:
    """The remote's load for ``identity`` if it applies here (stored locally for next time)."""
    import json

    shared_id, key = shared
    body = remote.get_document(key)
    if body is None:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    entry = unshare_entry(data, shared_id, identity, root, cache)
    if entry is None:
        return None
    cache.store(entry)
    remote.stats.loads_fetched += 1
    return entry


def _share(
    remote: TieredStore, shared: tuple[dict[str, Any], str], entry: Entry, root: Path
) -> None:
    from axl.hashing import canonical_json

    shared_id, key = shared
    data = share_entry(entry, shared_id, root)
    if data is None or not remote.upload:
        return
    remote.put_document(key, canonical_json(data).encode())
    if not remote.degraded:
        remote.stats.loads_uploaded += 1


def _table_code(entry: Entry) -> CodeProvider:
    def code(node: Any) -> dict[str, str]:
        return entry.code_of(node.name)

    return code


def _importer(
    spec: str, root: Path, ir: IRWorkflow, files: dict[str, str | None]
) -> Callable[[], None]:
    """Imports the workflow module for steps that must run, checking that what gets compiled
    is what the cached keys were computed from (a source could change during the build)."""

    def prepare() -> None:
        cls = _loader.load_workflow(spec, root)
        if (cls.__module__, cls.__qualname__) != (ir.module, ir.qualname):
            raise LoadError(
                f"{spec} loaded as {cls.__module__}.{cls.__qualname__}, but the cached load "
                f"was {ir.module}.{ir.qualname}",
                hint="run the build again (add --no-cache if this repeats)",
            )
        for path, digest in files.items():
            source = _loader.SOURCES.get(path)
            if source is not None and bytes_digest(source) != digest:
                raise LoadError(
                    f"{display_path(Path(path))} changed while axl was building",
                    hint="run the build again",
                )

    return prepare


def _load(
    spec: str,
    params: Path | None,
    identity: dict[str, Any],
    extra_files: Sequence[Path],
    root: Path,
    cache: LoadCache | None,
) -> tuple[IRWorkflow, CodeProvider, Entry | None]:
    """A real load: import, trace, hash; then record it in the load cache (the entry is
    returned; ``None`` when the load is not cacheable)."""
    from axl._params import load_params
    from axl.exec._session import live_code
    from axl.ir import build_ir

    # Digests taken before reading: if a file changes during the load, the next build reloads.
    before: dict[str, str | None] = {}
    if cache is not None:
        for path in (params, *extra_files, root / "uv.lock"):
            if path is not None:
                before[str(path)] = cache.digest(str(path))
    cls = _loader.load_workflow(spec, root)
    overrides = load_params(params) if params is not None else None
    ir = build_ir(cls, overrides, display_path(params) if params else None)
    live, index = live_code(cls, root)
    tables: dict[str, dict[str, str]] = {}
    for node in ir.nodes:
        try:
            tables[node.name] = live(node)
        except Exception:  # noqa: BLE001 - the engine reports it as that step's error
            return ir, live, None  # not cached: the next build must load (and report) again
    if cache is None:
        return ir, live, None
    files = {**before, **_source_files(cls, root, cache), **index.files}
    entry = Entry.make(identity, files, to_dict(ir), tables)
    cache.store(entry)
    return ir, live, entry


def _source_files(cls: type, root: Path, cache: LoadCache) -> dict[str, str | None]:
    """Every source the load compiled or ran: project modules (by the bytes compiled), the
    modules of the workflow's classes, and axl's own modules (they shape IR and code keys)."""
    files: dict[str, str | None] = {
        path: bytes_digest(data) for path, data in _loader.SOURCES.items()
    }
    modules = [getattr(c, "__module__", "") for c in cls.__mro__]
    modules += [m for m in list(sys.modules) if m == "axl" or m.startswith("axl.")]
    for name in modules:
        file = getattr(sys.modules.get(name), "__file__", None)
        if file and file.endswith(".py"):
            path = str(Path(file).resolve())
            if path not in files:
                files[path] = cache.digest(path)
    return files
