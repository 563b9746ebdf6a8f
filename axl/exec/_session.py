"""One local build, end to end: workspace, store, keys, engine, run record, readable outputs."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axl._loader import find_workspace, split_spec
from axl._params import load_params
from axl.cache._local import LocalStore, write_atomic
from axl.dsl import Workflow
from axl.errors import CacheWriteError, cannot_write
from axl.exec._engine import BuildOptions, CodeProvider, EventHook, build
from axl.exec._history import graph_record, new_run_id
from axl.exec._remote_build import build_store, settle_remote
from axl.exec._report import BuildInterrupted, BuildReport
from axl.graph._code import CodeIndex
from axl.graph._keys import environment_part
from axl.ir import IRNode, IRWorkflow

if TYPE_CHECKING:
    from axl.exec._load import Loaded

#: The folder (under the workspace root) holding readable links to each build's outputs.
OUTPUT_DIR = "workspace"


def cache_dir_for(root: Path, cache_dir: str | Path | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$AXL_CACHE_DIR``, else ``<root>/.axl``."""
    chosen = cache_dir or os.environ.get("AXL_CACHE_DIR")
    return Path(chosen).resolve() if chosen else root / ".axl"


def open_store(root: Path, cache_dir: str | Path | None = None) -> LocalStore:
    return LocalStore(cache_dir_for(root, cache_dir))


def live_code(cls: type[Workflow], root: Path) -> tuple[CodeProvider, CodeIndex]:
    """A code provider that reads the (already imported) workflow's sources."""
    index = CodeIndex(root)
    steps = cls.steps()

    def code(node: IRNode) -> dict[str, str]:
        if node.kind == "params":
            # The params step's values are its input; its function ran when the IR was built.
            return {}
        return index.step_code(steps[node.step].fn, cls)

    return code, index


def run_local(
    spec: str,
    *,
    params_file: str | Path | None = None,
    workspace: str | Path | None = None,
    cache_dir: str | Path | None = None,
    options: BuildOptions | None = None,
    on_event: EventHook | None = None,
    remote_cache: str | None = None,
    remote_upload: bool | None = None,
    config: str | Path | None = None,
) -> BuildReport:
    """Load, trace, key and build the workflow ``spec`` (``module:Class`` or ``file.py:Class``).

    ``remote_cache``/``remote_upload`` are the ``--remote-cache``/``--[no-]remote-upload`` flags
    (``None``: not given; see :func:`axl.exec._remote_build.build_store`); ``config`` a run
    config (:mod:`axl._runconfig`), whose settings the flags override.
    """
    root = find_workspace(explicit=workspace)
    run_config = None
    if config is not None:  # the config module stays unimported on the warm path without one
        from axl._runconfig import load_config, refuse_both_params

        run_config = load_config(config)
        refuse_both_params(params_file, run_config)
        remote_cache, remote_upload = run_config.remote(remote_cache, remote_upload)
    store = build_store(
        root,
        cache_dir_for(root, cache_dir),
        remote_cache=remote_cache,
        remote_upload=remote_upload,
    )
    loaded = load_spec(
        spec, params_file, root, store, no_cache=options is not None and options.no_cache
    )
    return run_ir(
        loaded.ir if run_config is None else run_config.apply(loaded.ir),
        root=root,
        store=store,
        code=loaded.code,
        options=options,
        prepare=loaded.prepare,
        on_event=on_event,
    )


def load_spec(
    spec: str,
    params_file: str | Path | None,
    root: Path,
    store: LocalStore,
    *,
    no_cache: bool = False,
) -> Loaded:
    """Load the workflow ``spec`` (``-m``) through the load cache of ``store``'s folder."""
    from axl.exec._load import load_cached
    from axl.graph._loadcache import LoadCache

    target, cls_name = split_spec(spec)
    if target.endswith(".py") or "/" in target:
        resolved, label = f"{(Path.cwd() / target).resolve()}:{cls_name}", "-m"
    else:
        # A module name resolves against the current folder, which is therefore part of the load.
        resolved, label = spec, f"-m@{Path.cwd().resolve()}"
    params = Path(params_file).resolve() if params_file is not None else None
    if params_file is not None and not Path(params_file).is_file():
        load_params(params_file)  # raises the params file's own error
    cache = LoadCache(store.root / "load")
    loaded = load_cached(
        resolved,
        params,
        label=label,
        extra_files=(),
        root=root,
        cache=cache,
        no_cache=no_cache,
        remote=store.remote_tier(),
    )
    cache.save()
    return loaded


def run_ir(
    ir: IRWorkflow,
    *,
    root: Path,
    store: LocalStore,
    code: CodeProvider,
    options: BuildOptions | None = None,
    prepare: Callable[[], None] | None = None,
    on_event: EventHook | None = None,
) -> BuildReport:
    """Build an IR whose code digests ``code`` provides; record the run; link the outputs.

    Raises:
        UsageError: An external input cannot be read (before any step runs).
        BuildInterrupted: Ctrl-C or SIGTERM; the run is recorded as interrupted first.
    """
    from axl.exec._sources import resolve_sources
    from axl.runtime._audit import ignored_reads

    opts = options or BuildOptions()
    wanted = ir.ancestors(list(opts.targets)) if opts.targets else None
    nodes = [n for n in ir.nodes if n.sources and (wanted is None or n.name in wanted)]
    sources = resolve_sources(nodes, root, store, jobs=opts.jobs) if nodes else {}
    options = dataclasses.replace(opts, ignore_reads=ignored_reads(root), workspace=str(root))
    try:
        report = build(
            ir,
            store=store,
            code=code,
            environment=environment_part(ir, root),
            options=options,
            prepare=prepare,
            on_event=on_event,
            sources=sources,
        )
    except BuildInterrupted as exc:
        # `axl runs` shows what got done; the completed steps are cached already.
        record_run(exc.report, store, ir)
        raise
    settle_remote(report, store)
    report.view = link_outputs(report, root, store)
    try:
        record_run(report, store, ir)
    except CacheWriteError:
        # A full cache that already stopped a step is reported with that step, once.
        if not any(step.hint for step in report.steps.values()):
            raise
    return report


def link_outputs(report: BuildReport, root: Path, store: LocalStore) -> Path:
    """Readable links ``workspace/<hash>/<step>/<output>.<ext>`` into the CAS, plus
    ``workspace/<workflow>`` pointing at the latest build of that workflow."""
    base = root / OUTPUT_DIR
    view = base / report.hash
    # Strings, not Paths: a null build of thousands of steps checks thousands of links.
    view_str = str(view)
    for step in report.steps.values():
        for name, rec in step.outputs.items():
            suffix = f".{rec.extension}" if rec.extension else ""
            _symlink(str(store.blob_path(rec.digest)), f"{view_str}/{step.name}/{name}{suffix}")
    _symlink(report.hash, f"{base}/{report.workflow}")
    return view


def _symlink(target: str, link: str) -> None:
    with contextlib.suppress(OSError):
        if os.readlink(link) == target:
            return
    os.makedirs(os.path.dirname(link), exist_ok=True)
    tmp = f"{os.path.dirname(link)}/.{os.path.basename(link)}.{os.urandom(4).hex()}"
    os.symlink(target, tmp)
    os.replace(tmp, link)


def record_run(report: BuildReport, store: LocalStore, ir: IRWorkflow | None = None) -> Path:
    """Append the build to the run history: ``runs/<workflow>/<run-id>.json`` (with the graph's
    shape when ``ir`` is given, so that a report can draw the DAG from the record alone)."""
    # Microseconds in the id: run ids sort in start order even for builds in the same second.
    report.run_id = new_run_id(report.started)
    folder = store.runs_dir / report.workflow
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = report.run_record()
    data["host"] = os.uname().nodename
    data["user"] = os.environ.get("USER", "")
    if ir is not None:
        data["graph"] = graph_record(ir)
    path = folder / f"{report.run_id}.json"
    # Compact: with `indent`, json falls back to its pure-Python encoder (~0.5 s per 1,000 steps,
    # the bulk of a null build).
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    try:
        write_atomic(path, text, store.tmp_dir)
    except OSError as exc:
        if cannot_write(exc):
            raise CacheWriteError(store.root, exc, "the run record", len(text)) from None
        raise
    return path


def load_runs(store: LocalStore, workflow: str) -> list[dict[str, Any]]:
    """The run records of ``workflow``, oldest first."""
    folder = store.runs_dir / workflow
    if not folder.is_dir():
        return []
    runs = []
    for path in sorted(folder.glob("*.json")):
        with contextlib.suppress(ValueError, OSError):
            runs.append(json.loads(path.read_text()))
    return runs
