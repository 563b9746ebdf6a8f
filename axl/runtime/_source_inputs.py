"""The runner's side of external inputs: find the data, check it is what the step was keyed with.

A ``source`` leaf of the manifest names the data's declared location and (when the build keyed it
already) its digest. The runner looks for it under ``--inputs`` (where an orchestrator mapped a
copy, e.g. an Argo input artifact), then in its working store by digest (a file's snapshot), then
at its location in the workspace. If the data found no longer has the keyed digest, the step does
not run: a result under that key would describe other data.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

from axl.cache._local import LocalStore
from axl.errors import AxlError, RunnerError
from axl.ir import Source
from axl.runtime._logs import JsonLog
from axl.runtime._manifest import safe_relpath


def resolve_source(
    leaf: dict[str, Any],
    name: str,
    *,
    folder: Path | None,
    workspace: Path | None,
    work: LocalStore,
    log: JsonLog,
    stage: bool,
) -> dict[str, Any]:
    """``leaf`` with its digest settled (and, with ``stage``, its bytes or folder ready).

    Raises:
        RunnerError: The data is missing, or no longer has the digest it was keyed with.
    """
    src = Source(leaf["kind"], leaf["location"], leaf.get("glob"))
    what = f"input {name!r} ({src.kind} {src.location})"
    if src.remote:
        if leaf.get("digest") is None or leaf.get("remote") is None:
            from axl.runtime._remote_inputs import resolve_remote

            ident = resolve_remote(src, name)
            return {**leaf, "digest": ident.digest, "remote": ident.remote}
        return leaf
    if leaf.get("digest") is not None and not stage:
        return leaf
    mapped = _mapped(leaf, folder, what)
    digest = leaf.get("digest")
    if src.kind == "file" and mapped is None and digest is not None and work.has_blob(digest):
        return leaf  # the build's snapshot: the very bytes that were keyed
    place = mapped or _in_workspace(src, workspace)
    if src.kind == "dir":
        return _folder(leaf, src, place, work, what)
    if place is None:
        raise RunnerError(
            f"{what} is missing: not under --inputs, not in the store, not in the workspace",
            hint="map the file into --inputs at the manifest's path, or run in the workspace",
        )
    got = _stage_file(place, work)
    if digest is not None and got != digest:
        raise RunnerError(
            f"{what}: {place} has content digest {got[:12]}..., but the step was keyed with "
            f"{digest[:12]}... (the data changed after the build keyed it)",
            hint="build again so the step is keyed with the data as it is now",
        )
    log.note("input", input=name, digest=got, source=str(place))
    return {**leaf, "digest": got}


def _mapped(leaf: dict[str, Any], folder: Path | None, what: str) -> Path | None:
    if folder is not None and leaf.get("path"):
        mapped = folder / safe_relpath(leaf["path"], what)
        if mapped.exists():
            return mapped
    return None


def _in_workspace(src: Source, workspace: Path | None) -> Path | None:
    path = Path(src.location)
    if not path.is_absolute():
        if workspace is None:
            return None
        path = workspace / path
    return path if path.exists() else None


def _stage_file(path: Path, work: LocalStore) -> str:
    tmp = work.tmp_file()
    try:
        shutil.copyfile(path, tmp)
        digest, _ = work.put_file(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return digest


def _folder(
    leaf: dict[str, Any], src: Source, place: Path | None, work: LocalStore, what: str
) -> dict[str, Any]:
    from axl.graph._loadcache import StatCache
    from axl.graph._sources import list_folder

    if place is None:
        raise RunnerError(
            f"{what} is missing: not under --inputs and not in the workspace",
            hint="map the folder into --inputs at the manifest's path, or run in the workspace",
        )
    stats = StatCache(work.root / "load" / "stat.json")
    try:
        got = list_folder(src, place, stats, what).digest
    except AxlError as exc:
        raise RunnerError(f"{what}: {exc.message}", hint=exc.hint) from None
    finally:
        stats.save()
    digest = leaf.get("digest")
    if digest is not None and got != digest:
        raise RunnerError(
            f"{what}: folder {place} has listing digest {got[:12]}..., but the step was keyed "
            f"with {digest[:12]}... (files changed after the build keyed it)",
            hint="build again so the step is keyed with the folder as it is now",
        )
    return {**leaf, "digest": got, "local": str(place)}


def task_arg(leaf: dict[str, Any]) -> dict[str, Any]:
    """A resolved ``source`` leaf in :class:`~axl.runtime.StepTask`'s shape."""
    src = {k: leaf[k] for k in ("kind", "location", "glob") if k in leaf}
    if leaf["kind"] == "dir":
        return {"folder": {"source": src, "digest": leaf["digest"], "path": leaf["local"]}}
    base = {k: leaf[k] for k in ("digest", "handler", "extension", "mode")}
    if "remote" in leaf:
        return {"remote": {**base, "source": src, "remote": leaf["remote"]}}
    return {"input": base}
