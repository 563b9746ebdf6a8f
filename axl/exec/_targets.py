"""Building targets named by labels: expand, order by deps, hand each to its kind's builder.

The builder of ``axl_workflow`` is here. It runs the same engine as ``axl run local``
(:func:`axl.exec._session.run_ir`); what it adds is the load cache (:mod:`axl.graph._loadcache`):
when none of the files a load read has changed, the IR and the steps' code parts come from the
cache and the user's module is imported only if some step must actually run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axl import _loader
from axl.cache._local import LocalStore
from axl.errors import AxlError, BuildFileError, LoadError, Loc, UsageError
from axl.exec._engine import BuildOptions, CodeProvider, EventHook
from axl.exec._remote_build import build_store
from axl.exec._report import BuildReport
from axl.exec._session import cache_dir_for, run_ir
from axl.graph._buildfile import Target, display_path
from axl.graph._labels import Label, parse_pattern
from axl.graph._loadcache import Entry, LoadCache, identity_of
from axl.graph._targets import TargetGraph
from axl.hashing import bytes_digest
from axl.ir import IRWorkflow, from_dict, to_dict

#: How a target ended.
OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass
class TargetContext:
    """What a builder gets besides its target."""

    root: Path
    graph: TargetGraph
    store: LocalStore
    options: BuildOptions
    load_cache: LoadCache | None
    params: Path | None = None
    on_event: EventHook | None = None
    #: Results of the targets built so far (a builder reads its deps' here).
    results: dict[Label, TargetResult] = field(default_factory=dict)


@dataclass
class TargetResult:
    """One target's outcome. ``load``: for a workflow, "cached" or why it was loaded again."""

    label: Label
    kind: str
    status: str
    report: BuildReport | None = None
    load: str = ""
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The workflow's report JSON; for a target with no report, its status and reason."""
        if self.report is not None:
            return self.report.to_json()
        return {"ok": self.status == OK, "status": self.status, "reason": self.reason}


Builder = Callable[[Target, TargetContext], TargetResult]


def build_targets(
    patterns: Sequence[str],
    *,
    workspace: str | Path | None = None,
    cache_dir: str | Path | None = None,
    options: BuildOptions | None = None,
    params: str | Path | None = None,
    load_cache: bool = True,
    on_target: Callable[[TargetResult], None] | None = None,
    remote_cache: str | None = None,
    remote_upload: bool | None = None,
) -> list[TargetResult]:
    """Build the targets ``patterns`` name and their deps, deps first.

    Args:
        patterns: Labels or patterns (``//pkg:name``, ``:name``, ``//pkg:all``, ``//pkg/...``).
        workspace: The workspace root (default: nearest folder up with pyproject.toml).
        cache_dir: The cache folder (default: ``$AXL_CACHE_DIR`` or ``<root>/.axl``).
        options: Engine options, for every workflow target.
        params: A params file overriding the rule's (only with a single workflow target).
        load_cache: Reuse earlier loads whose sources are unchanged.
        on_target: Called as each target ends.
        remote_cache: ``--remote-cache`` (see :func:`axl.exec._remote_build.build_store`).
        remote_upload: ``--[no-]remote-upload``.

    Raises:
        AxlError: A label, BUILD file or target cannot be resolved or built.
    """
    root = _loader.find_workspace(explicit=workspace)
    graph = TargetGraph(root)
    order = plan(graph, patterns)
    builders = {t.label: t.kind.load_builder() for t in order}
    opts = options or BuildOptions()
    if params is not None and sum(t.kind.name == "axl_workflow" for t in order) != 1:
        raise UsageError(
            "--params needs exactly one workflow target to apply to",
            hint="name one axl_workflow target, or set params in its BUILD rule",
        )
    folder = cache_dir_for(root, cache_dir)
    store = build_store(root, folder, remote_cache=remote_cache, remote_upload=remote_upload)
    ctx = TargetContext(
        root=root,
        graph=graph,
        store=store,
        options=opts,
        load_cache=LoadCache(folder / "load") if load_cache else None,
        params=Path(params).resolve() if params is not None else None,
    )
    stopped = False
    for target in order:
        result = _build_one(target, builders[target.label], ctx, stopped=stopped)
        ctx.results[target.label] = result
        stopped = stopped or (result.status == FAILED and not opts.keep_going)
        if on_target is not None:
            on_target(result)
    if ctx.load_cache is not None:
        ctx.load_cache.save()
    return list(ctx.results.values())


def plan(graph: TargetGraph, patterns: Sequence[str]) -> list[Target]:
    """The targets to build for ``patterns``, with their deps, deps first.

    Wildcards (``:all``, ``...``) skip Bazel's own rules; naming one explicitly is an error
    (raised by :meth:`RuleKind.load_builder`).
    """
    cwd_package = graph.cwd_package()
    parsed = [parse_pattern(p, cwd_package) for p in patterns]
    explicit = {p.label for p in parsed if p.kind == "target"}
    wanted = [
        label
        for label in graph.expand(parsed)
        if label in explicit or not graph.target(label).kind.bazel_only
    ]
    if not wanted:
        raise UsageError(
            f"{' '.join(patterns)} names no target axl can build",
            hint="list them with: axl query //...",
        )
    return graph.closure(wanted)


def _build_one(
    target: Target, builder: Builder, ctx: TargetContext, *, stopped: bool
) -> TargetResult:
    kind = target.kind.name
    if stopped:
        return TargetResult(target.label, kind, SKIPPED, reason="the build stopped after a failure")
    for dep in target.deps:
        if ctx.results[dep].status != OK:
            return TargetResult(
                target.label, kind, SKIPPED, reason=f"dependency {dep} did not succeed"
            )
    try:
        return builder(target, ctx)
    except AxlError as exc:
        if not ctx.options.keep_going:
            raise
        # With --keep-going a target that cannot load fails alone, as in Bazel.
        return TargetResult(target.label, kind, FAILED, reason=exc.render())


# -- axl_workflow ---------------------------------------------------------------------------


def build_workflow(target: Target, ctx: TargetContext) -> TargetResult:
    """Build an ``axl_workflow`` target: load it (or reuse the cached load), then run the engine."""
    spec = workflow_spec(target, ctx.root)
    params = ctx.params or target_params(target)
    identity = identity_of(
        label=str(target.label),
        workflow=spec,
        params=str(params) if params else None,
        root=str(ctx.root),
    )
    entry: Entry | None = None
    if ctx.load_cache is None:
        why = "the load cache is off"
    elif ctx.options.no_cache:
        why = "--no-cache was given"
    else:
        entry, why = ctx.load_cache.lookup(identity)
    prepare: Callable[[], None] | None = None
    if entry is not None:
        ir = from_dict(entry.ir)
        code: CodeProvider = _table_code(entry)
        prepare = _importer(spec, ctx.root, ir, entry.files)
    else:
        ir, code = _load(spec, params, identity, target, ctx)
    report = run_ir(
        ir,
        root=ctx.root,
        store=ctx.store,
        code=code,
        options=ctx.options,
        prepare=prepare,
        on_event=ctx.on_event,
    )
    return TargetResult(
        target.label,
        "axl_workflow",
        OK if report.ok else FAILED,
        report,
        "cached" if entry else why,
    )


def workflow_spec(target: Target, root: Path) -> str:
    """The rule's ``workflow`` as a loader spec: ``/abs/file.py:Class`` or ``module:Class``."""
    value = str(target.attrs["workflow"])
    where: Loc = {"file": display_path(target.file), "line": target.line}
    module, sep, cls = value.rpartition(":")
    if not sep or not module or not cls.isidentifier():
        raise BuildFileError(
            f'{target.label}: workflow {value!r} is not "file.py:Class" or "module:Class"',
            **where,
        )
    if not (module.endswith(".py") or "/" in module):
        return value
    path = (target.folder / module).resolve()
    if not path.is_file():
        raise BuildFileError(
            f"{target.label}: workflow file {module} does not exist in {target.folder}",
            hint="the path is relative to the BUILD file's folder",
            **where,
        )
    if not path.is_relative_to(root):
        raise BuildFileError(
            f"{target.label}: workflow file {path} is outside the workspace {root}", **where
        )
    return f"{path}:{cls}"


def target_params(target: Target) -> Path | None:
    """The rule's ``params`` file (absolute), checked to exist."""
    value = target.attrs.get("params")
    if value is None:
        return None
    path = (target.folder / str(value)).resolve()
    if not path.is_file():
        raise BuildFileError(
            f"{target.label}: params file {value} does not exist in {target.folder}",
            hint="the path is relative to the BUILD file's folder",
            file=display_path(target.file),
            line=target.line,
        )
    return path


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
    spec: str, params: Path | None, identity: dict[str, Any], target: Target, ctx: TargetContext
) -> tuple[IRWorkflow, CodeProvider]:
    """A real load: import, trace, hash; then record it in the load cache."""
    from axl._params import load_params
    from axl.exec._session import live_code
    from axl.ir import build_ir

    cache = ctx.load_cache
    # Digests taken before reading: if a file changes during the load, the next build reloads.
    before: dict[str, str | None] = {}
    if cache is not None:
        for path in (params, target.file, ctx.root / "uv.lock"):
            if path is not None:
                before[str(path)] = cache.digest(str(path))
    cls = _loader.load_workflow(spec, ctx.root)
    overrides = load_params(params) if params is not None else None
    ir = build_ir(cls, overrides, display_path(params) if params else None)
    live, index = live_code(cls, ctx.root)
    tables: dict[str, dict[str, str]] = {}
    for node in ir.nodes:
        try:
            tables[node.name] = live(node)
        except Exception:  # noqa: BLE001 - the engine reports it as that step's error
            return ir, live  # not cached: the next build must load (and report) again
    if cache is not None:
        files = {**before, **_source_files(cls, ctx.root, cache), **index.files}
        cache.store(Entry.make(identity, files, to_dict(ir), tables))
    return ir, live


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
