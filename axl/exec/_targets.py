"""Building targets named by labels: expand, order by deps, hand each to its kind's builder.

The builder of ``axl_workflow`` is here. It runs the same engine as ``axl run local``
(:func:`axl.exec._session.run_ir`); what it adds is the load cache (:mod:`axl.graph._loadcache`):
when none of the files a load read has changed, the IR and the steps' code parts come from the
cache and the user's module is imported only if some step must actually run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axl import _loader
from axl.cache._local import LocalStore
from axl.errors import AxlError, BuildFileError, Loc, UsageError
from axl.exec._engine import BuildOptions, EventHook
from axl.exec._load import load_cached
from axl.exec._remote_build import build_store
from axl.exec._report import BuildReport
from axl.exec._session import cache_dir_for, run_ir
from axl.graph._buildfile import Target, display_path
from axl.graph._labels import Label, parse_pattern
from axl.graph._loadcache import LoadCache
from axl.graph._targets import TargetGraph

if TYPE_CHECKING:
    # Imported where used: a null build without configs never loads the config module.
    from axl._runconfig import RunConfig

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
    #: ``--config``: wins over every rule's ``config``.
    config: RunConfig | None = None
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
    on_event: EventHook | None = None,
    config: str | Path | None = None,
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
        on_event: The engine's progress hook, for every workflow target.
        config: ``--config``: a run config for every target (instead of their rules').

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
    run_config = None
    if config is not None:
        from axl._runconfig import load_config

        run_config = load_config(config)
    remote_cache, remote_upload = _build_remote(order, run_config, (remote_cache, remote_upload))
    store = build_store(root, folder, remote_cache=remote_cache, remote_upload=remote_upload)
    ctx = TargetContext(
        root=root,
        graph=graph,
        store=store,
        options=opts,
        load_cache=LoadCache(folder / "load") if load_cache else None,
        params=Path(params).resolve() if params is not None else None,
        on_event=on_event,
        config=run_config,
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
    config = ctx.config or target_config(target)
    if config is not None:
        from axl._runconfig import refuse_both_params

        refuse_both_params(params, config)
    loaded = load_cached(
        spec,
        params,
        label=str(target.label),
        extra_files=(target.file,),
        root=ctx.root,
        cache=ctx.load_cache,
        no_cache=ctx.options.no_cache,
        remote=ctx.store.remote_tier(),
    )
    report = run_ir(
        loaded.ir if config is None else config.apply(loaded.ir),
        root=ctx.root,
        store=ctx.store,
        code=loaded.code,
        options=ctx.options,
        prepare=loaded.prepare,
        on_event=ctx.on_event,
    )
    return TargetResult(
        target.label,
        "axl_workflow",
        OK if report.ok else FAILED,
        report,
        loaded.why,
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


def target_config(target: Target) -> RunConfig | None:
    """The rule's ``config`` file (relative to its BUILD file), loaded and checked.

    Raises:
        BuildFileError: The file does not exist.
        ConfigError: It is not a valid run config.
    """
    value = target.attrs.get("config")
    if value is None:
        return None
    from axl._runconfig import load_config

    path = (target.folder / str(value)).resolve()
    if not path.is_file():
        raise BuildFileError(
            f"{target.label}: run config {value} does not exist in {target.folder}",
            hint="the path is relative to the BUILD file's folder",
            file=display_path(target.file),
            line=target.line,
        )
    return load_config(path)


def _build_remote(
    order: Sequence[Target], config: RunConfig | None, flags: tuple[str | None, bool | None]
) -> tuple[str | None, bool | None]:
    """The remote-cache settings of a build: the flags, else ``--config``'s, else those the
    targets' own configs agree on (one store serves every target of a build).

    Raises:
        ConfigError: Two targets' configs name different remote settings.
    """
    if config is not None:
        return config.remote(*flags)
    seen: dict[tuple[Any, Any], Target] = {}
    for target in order:
        # Only workflow targets build through the store; an argo_workflow's remote_cache is
        # its pods' (it goes into the YAML).
        wanted = target.kind.name == "axl_workflow" and "config" in target.attrs
        rule = target_config(target) if wanted else None
        if rule is not None:
            # A field given by a flag is the build's whatever the configs say.
            own = rule.remote(None, None)
            seen.setdefault(
                (own[0] if flags[0] is None else None, own[1] if flags[1] is None else None),
                target,
            )
    if len(seen) > 1:
        from axl._runconfig import ConfigError

        (first, a), (second, b) = list(seen.items())[:2]
        raise ConfigError(
            f"{a.label} and {b.label} have run configs with different remote caches "
            f"({first[0]!r}, {second[0]!r}); one build uses one",
            hint="build them separately, or give --config / --remote-cache for the whole build",
            file=display_path(b.file),
            line=b.line,
        )
    chosen = next(iter(seen), (None, None))
    return (
        flags[0] if flags[0] is not None else chosen[0],
        flags[1] if flags[1] is not None else chosen[1],
    )


def workflow_target(graph: TargetGraph, label: str) -> Target:
    """The ``axl_workflow`` target ``label`` names (relative labels from the current package).

    Raises:
        UsageError: It names another kind of target.
        AxlError: The label or its BUILD file cannot be resolved.
    """
    target = graph.target(parse_pattern(label, graph.cwd_package()).label)
    if target.kind.name != "axl_workflow":
        raise UsageError(
            f"{target.label} is a {target.kind.name} target, not a workflow",
            hint="name an axl_workflow target (list them: axl query //...)",
        )
    return target
