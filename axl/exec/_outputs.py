"""``axl outputs``: a build's outputs copied (or hard-linked) out as ``<step>/<output>.<ext>``.

Which build: a recorded run (``last``, an id), else the last run of a workflow; a workflow this
cache never built (a fresh checkout, an emptied cache) is looked up instead: its current sources
are keyed as a build would key them and each key is asked of the local cache, then the remote,
without running anything (:attr:`BuildOptions.lookup_only`).

Where the bytes come from: the local cache, else the remote one, through the step's record
(:meth:`TieredStore.get_record` downloads and verifies its blobs), so nothing new fetches blobs.
Nothing is written unless every output is available; each file is written atomically.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from axl.errors import UsageError

if TYPE_CHECKING:
    from axl.cache._local import LocalStore
    from axl.cache._records import OutputRecord
    from axl.exec._history import Run
    from axl.exec._load import Loaded
    from axl.exec._report import BuildReport


@dataclass(frozen=True)
class StepOutputs:
    """One step of the chosen build: its key (to ask a remote) and its outputs."""

    step: str
    key: str | None
    outputs: dict[str, OutputRecord]
    status: str
    #: A lookup found no result for it (or for a step it reads): its outputs are unavailable.
    missing: bool = False


@dataclass(frozen=True)
class Exported:
    """One file written: ``path`` under the destination, from ``record``."""

    step: str
    output: str
    path: Path
    record: OutputRecord


def from_run(run: Run) -> list[StepOutputs]:
    """The outputs a recorded run names, in the workflow's order."""
    return [StepOutputs(s.name, s.key, s.outputs, s.status) for s in run.ordered_steps()]


def from_report(report: BuildReport) -> list[StepOutputs]:
    """The outputs a (lookup-only) build found."""
    return [
        StepOutputs(s.name, s.key, s.outputs, s.status, missing=s.status == "skipped")
        for s in report.steps.values()
    ]


def file_name(step: str, output: str, record: OutputRecord) -> str:
    """``<step>/<output>.<ext>`` (no suffix for an output whose handler was picked at run time
    and has no extension), as the ``workspace/`` view names it."""
    suffix = f".{record.extension}" if record.extension else ""
    return f"{step}/{output}{suffix}"


def export(
    steps: list[StepOutputs], store: LocalStore, dest: Path, *, link: bool = False
) -> list[Exported]:
    """Write every output of ``steps`` under ``dest``; the local blobs, else the remote's.

    Raises:
        UsageError: An output is in neither cache (nothing is written then), or the build
            has no outputs at all.
    """
    blobs: list[tuple[StepOutputs, str, OutputRecord, Path]] = []
    missing: list[str] = []
    for item in steps:
        if item.missing:
            missing.append(f"{item.step} (key {(item.key or '-')[:12]})")
        for output, record in item.outputs.items():
            path = _blob(store, item, record)
            if path is None:
                missing.append(f"{item.step}/{output} (blob {record.digest[:12]})")
            else:
                blobs.append((item, output, record, path))
    if missing:
        remote = store.remote_tier()
        where = (
            f"in neither the local cache nor the remote {remote.remote.url}"
            if remote
            else f"not in the cache {store.root}"
        )
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise UsageError(
            f"{len(missing)} output(s) are {where}: {', '.join(missing[:5])}{more}",
            hint="build them again (axl build LABEL / axl run local -m ...)"
            + ("" if remote else ", or name the remote cache holding them with --remote-cache"),
        )
    if not blobs:
        not_ok = [f"{s.step} ({s.status})" for s in steps if s.status not in ("ran", "cached")]
        raise UsageError(
            "the build has no outputs to copy" + (f": {', '.join(not_ok[:5])}" if not_ok else ""),
            hint="build the workflow first (axl build LABEL / axl run local -m ...)",
        )
    written: list[Exported] = []
    for item, output, record, blob in blobs:
        target = dest / file_name(item.step, output, record)
        _place(blob, target, link=link)
        written.append(Exported(item.step, output, target, record))
    return written


def _blob(store: LocalStore, item: StepOutputs, record: OutputRecord) -> Path | None:
    path = store.verified_blob(record.digest)
    remote = store.remote_tier()
    if path is None and remote is not None and item.key is not None:
        # The record under the step's key names the same blobs (keys are content-addressed);
        # fetching it downloads and verifies them into the local cache.
        remote.get_record(item.key)
        path = store.verified_blob(record.digest)
    return path


def _place(blob: Path, target: Path, *, link: bool) -> None:
    """``target`` becomes a copy of (or a hard link to) ``blob``, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.urandom(4).hex()}"
    try:
        linked = False
        if link:
            # A hard link shares the cache's read-only file: no copy, and an edit is refused.
            with contextlib.suppress(OSError):
                os.link(blob, tmp)
                linked = True
        if not linked:
            shutil.copyfile(blob, tmp)
            os.chmod(tmp, 0o644)  # the cache's blobs are read-only; a copy is the user's
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def choose(
    store: LocalStore,
    root: Path,
    *,
    ref: str | None,
    module: str | None,
    workflow: str | None,
    params: str | None,
) -> tuple[str, list[StepOutputs]]:
    """The build ``axl outputs`` is about, described in words, and its steps' outputs.

    ``ref`` is a label (``//pkg:name``, ``:name``) or a run (``last``, an id or a prefix of one);
    ``-m`` names a workflow by its module. A workflow (by label or ``-m``) gives its last recorded
    run, else a lookup of its current sources.

    Raises:
        UsageError: Contradicting arguments, or no such run.
    """
    from axl.exec._history import find_run, last_run

    is_label = ref is not None and (ref.startswith("//") or ":" in ref)
    if is_label and module is not None:
        raise UsageError("name the workflow either by label or with -m, not both")
    if not is_label and module is None:
        run = find_run(store, ref or "last", workflow)
        return f"run {run.id} of {run.workflow}", from_run(run)
    if workflow is not None:
        raise UsageError("--workflow names a recorded workflow; drop it with a label or -m")
    loaded = (
        _load_label(ref, params, root, store)
        if is_label
        else _load_module(str(module), params, root, store)
    )
    last = last_run(store, loaded.ir.name)
    if last is not None:
        return f"run {last.id} of {last.workflow}", from_run(last)
    from axl.exec._engine import BuildOptions, build
    from axl.graph._keys import environment_part

    report = build(
        loaded.ir,
        store=store,
        code=loaded.code,
        environment=environment_part(loaded.ir, root),
        options=BuildOptions(in_process=True, lookup_only=True),
    )
    return f"{loaded.ir.name} (not built with this cache: looked up)", from_report(report)


def _load_module(spec: str, params: str | None, root: Path, store: LocalStore) -> Loaded:
    from axl.exec._session import load_spec

    return load_spec(spec, params, root, store)


def _load_label(label: str | None, params: str | None, root: Path, store: LocalStore) -> Loaded:
    from axl._runconfig import apply_config
    from axl.exec._load import load_cached
    from axl.exec._targets import target_config, target_params, workflow_spec, workflow_target
    from axl.graph._loadcache import LoadCache
    from axl.graph._targets import TargetGraph

    target = workflow_target(TargetGraph(root), str(label))
    cache = LoadCache(store.root / "load")
    chosen = Path(params).resolve() if params is not None else target_params(target)
    loaded = load_cached(
        workflow_spec(target, root),
        chosen,
        label=str(target.label),
        extra_files=(target.file,),
        root=root,
        cache=cache,
        remote=store.remote_tier(),
    )
    cache.save()
    # The target's run config may set params: they are part of the keys to look up.
    return dataclasses.replace(loaded, ir=apply_config(loaded.ir, target_config(target)))
