"""Building from Python: :func:`build` and :func:`results`, for scripts and notebooks.

:func:`build` runs the engine ``axl run local`` and ``axl build`` run, with the same workspace,
cache, keys and run history, so a build from Python and one from the command line hit each
other's cache in either order:

- a workflow class (imported, defined in a script or in notebook cells) is traced and keyed in
  this process (:func:`axl.exec._session.run_ir`); code defined in cells is keyed from the source
  IPython compiled (:mod:`axl.graph._cells`);
- a ``module:Class`` or ``file.py:Class`` spec goes through :func:`axl.exec._session.run_local`,
  exactly as ``axl run local -m``;
- a label (``//pkg:name``) through :func:`axl.exec._targets.build_targets`, as ``axl build``.

The engine is imported on the first call, never by ``import axl``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axl._results import BuildFailed, BuildResult, StepResult
from axl.dsl import Workflow
from axl.errors import UsageError

if TYPE_CHECKING:
    from axl.exec._engine import BuildOptions
    from axl.exec._history import Run
    from axl.exec._report import BuildReport

#: What names a workflow: its class, ``module:Class``, ``path/file.py:Class`` or a label.
WorkflowRef = type[Workflow] | str
#: Params: a mapping of overrides, or a YAML/JSON file of them.
Params = Mapping[str, Any] | str | Path | None


def build(
    workflow: WorkflowRef,
    *,
    params: Params = None,
    jobs: int = 0,
    no_cache: bool = False,
    rerun: str | Iterable[str] = (),
    keep_going: bool = False,
    in_process: bool = False,
    remote_cache: str | None = None,
    remote_upload: bool | None = None,
    workspace: str | Path | None = None,
    cache_dir: str | Path | None = None,
    raise_on_failure: bool = True,
    progress: bool | None = None,
) -> BuildResult:
    """Build ``workflow`` here: cached steps are reused, the others run.

    Args:
        workflow: A workflow class, ``"module:Class"``, ``"path/file.py:Class"`` or a label
            (``"//examples:churn"``, ``":churn"``).
        params: Overrides of the params step's values: a dict, or a params file.
        jobs: Steps run at once, in worker processes (0: one per core).
        no_cache: Run every step (results are still stored).
        rerun: Step names to run even if cached.
        keep_going: Go on with independent steps after a failure.
        in_process: Run steps in this process (for a debugger).
        remote_cache: A remote cache URL (``""``: none); default as ``axl build``.
        remote_upload: Whether to upload to the remote cache (default as ``axl build``).
        workspace: The workspace root (default: the nearest folder up with pyproject.toml).
        cache_dir: The cache folder (default: ``$AXL_CACHE_DIR``, else ``<workspace>/.axl``).
        raise_on_failure: Raise :class:`BuildFailed` when a step fails; else return the result.
        progress: Show progress: a live view on a terminal, one line per step elsewhere
            (default: on a terminal or in a notebook).

    Raises:
        BuildFailed: A step failed or could not run (unless ``raise_on_failure`` is false).
        AxlError: The workflow, its params or the options are wrong (nothing ran).
    """
    from axl._loader import find_workspace
    from axl._stale import check_current
    from axl.exec._engine import BuildOptions

    check_current(find_workspace(explicit=workspace))
    options = BuildOptions(
        jobs=jobs,
        in_process=in_process,
        no_cache=no_cache,
        rerun=frozenset([rerun] if isinstance(rerun, str) else rerun),
        keep_going=keep_going,
    )
    remote: dict[str, Any] = {"remote_cache": remote_cache, "remote_upload": remote_upload}
    with _progress(progress) as on_event:
        req = _Request(workspace, cache_dir, options, on_event, remote)
        if isinstance(workflow, str) and workflow.startswith(("//", ":")):
            report = _build_label(workflow, params, req)
        elif isinstance(workflow, str) and not isinstance(params, Mapping):
            from axl.exec._session import run_local

            report = run_local(
                workflow,
                params_file=params,
                workspace=workspace,
                cache_dir=cache_dir,
                options=options,
                on_event=on_event,
                **remote,
            )
        else:
            report = _build_class(workflow, params, req)
    result = _result(report, workspace, cache_dir)
    if progress is not False and on_event is not None:
        _print_summary(result)
    if not result.ok and raise_on_failure:
        raise BuildFailed(result)
    return result


def results(
    workflow: type[Workflow] | str | None = None,
    *,
    run: str = "last",
    workspace: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> BuildResult:
    """The outputs of a recorded build, without building or importing the workflow's module.

    Args:
        workflow: The workflow class, or its name as ``axl runs`` lists it (``None``: any).
        run: ``"last"``, or a run id (a unique prefix, or its random suffix) from ``axl runs``.
        workspace: The workspace root (default: the nearest folder up with pyproject.toml).
        cache_dir: The cache folder (default: ``$AXL_CACHE_DIR``, else ``<workspace>/.axl``).

    Raises:
        UsageError: No such build is recorded in this cache.
    """
    from axl._loader import find_workspace
    from axl.cache._local import LocalStore
    from axl.exec._history import find_run
    from axl.exec._session import cache_dir_for

    name = workflow.workflow_name() if isinstance(workflow, type) else workflow
    if name is not None and (":" in name or "/" in name):
        raise UsageError(
            f"results() takes a workflow's name, not {name!r}",
            hint="pass the class, or the name `axl runs` lists (the workflow's `name`)",
        )
    folder = cache_dir_for(find_workspace(explicit=workspace), cache_dir)
    return _from_run(find_run(LocalStore(folder), run, name), folder)


def _from_run(run: Run, folder: Path) -> BuildResult:
    """A result from a run record: steps in workflow order, outputs in declared order (the
    record's graph keeps it; its JSON keeps names sorted)."""
    declared = {str(n.get("name")): [o[0] for o in n.get("outputs", [])] for n in run.graph()[0]}
    steps: dict[str, StepResult] = {}
    for step in run.ordered_steps():
        order = [o for o in declared.get(step.name, []) if o in step.outputs]
        outputs = {o: step.outputs[o] for o in [*order, *sorted(set(step.outputs) - set(order))]}
        steps[step.name] = replace(StepResult.of(step), outputs=outputs)
    return BuildResult(
        workflow=run.workflow,
        hash=run.hash,
        run_id=run.id,
        steps=steps,
        seconds=run.seconds,
        cache_dir=folder,
        view=Path(run.data["output_dir"]) if run.data.get("output_dir") else None,
    )


@dataclass
class _Request:
    """What every form of :func:`build` passes on to the engine."""

    workspace: str | Path | None
    cache_dir: str | Path | None
    options: BuildOptions
    on_event: Callable[[str, str], None] | None
    remote: dict[str, Any]


def _build_class(workflow: WorkflowRef, params: Params, req: _Request) -> BuildReport:
    """Trace and key a workflow class in this process, then run the engine on it."""
    from axl._loader import find_workspace, load_workflow
    from axl.exec._remote_build import build_store
    from axl.exec._session import cache_dir_for, live_code, run_ir
    from axl.ir import build_ir

    root = find_workspace(explicit=req.workspace)
    if isinstance(workflow, str):
        cls = load_workflow(_resolve_spec(workflow), root)
    elif isinstance(workflow, type) and issubclass(workflow, Workflow):
        cls = workflow
    else:
        raise UsageError(
            f"axl.build() takes a workflow class, 'module:Class' or a label, not {workflow!r}",
            hint="pass the class itself (a subclass of axl.Workflow), not an instance",
        )
    overrides, shown = _params(params)
    store = build_store(root, cache_dir_for(root, req.cache_dir), **req.remote)
    ir = build_ir(cls, overrides, shown)
    code, _ = live_code(cls, root)
    return run_ir(ir, root=root, store=store, code=code, options=req.options, on_event=req.on_event)


def _resolve_spec(spec: str) -> str:
    """A file spec made absolute (as ``axl run local -m`` does); a module spec as given."""
    from axl._loader import split_spec

    target, cls_name = split_spec(spec)
    if target.endswith(".py") or "/" in target:
        return f"{(Path.cwd() / target).resolve()}:{cls_name}"
    return spec


def _params(params: Params) -> tuple[Mapping[str, Any] | None, str | None]:
    """Overrides and where they came from (for error messages)."""
    if params is None or isinstance(params, Mapping):
        return params, None
    from axl._params import load_params
    from axl.graph._buildfile import display_path

    return load_params(params), display_path(Path(params).resolve())


def _build_label(label: str, params: Params, req: _Request) -> BuildReport:
    """Build one ``axl_workflow`` target, as ``axl build LABEL`` does."""
    from axl.exec._targets import build_targets
    from axl.graph._labels import parse_pattern

    if parse_pattern(label, "").kind != "target":
        raise UsageError(
            f"{label} must name one axl_workflow target",
            hint="name a single workflow target, e.g. //examples:churn",
        )
    if isinstance(params, Mapping):
        raise UsageError(
            f"params for {label} must be a file (as `axl build --params`), not a dict",
            hint="pass a params file, or build the class: axl.build(Class, params={...})",
        )
    found = build_targets(
        [label],
        workspace=req.workspace,
        cache_dir=req.cache_dir,
        options=req.options,
        params=params,
        on_event=req.on_event,
        **req.remote,
    )
    last = found[-1]  # deps are built first: the target named is the last one
    if last.kind != "axl_workflow":
        raise UsageError(
            f"{label} must name one axl_workflow target, not a {last.kind}",
            hint="name a single workflow target, e.g. //examples:churn",
        )
    if last.report is None:
        raise UsageError(f"{label} {last.status}: {last.reason}")
    return last.report


def _result(
    report: BuildReport, workspace: str | Path | None, cache_dir: str | Path | None
) -> BuildResult:
    """The build's result, read back from the run record it just wrote (one way to make a
    result, whether it was built now or earlier)."""
    import json

    from axl._loader import find_workspace
    from axl.exec._history import Run
    from axl.exec._session import cache_dir_for

    folder = cache_dir_for(find_workspace(explicit=workspace), cache_dir)
    path = folder / "runs" / report.workflow / f"{report.run_id}.json"
    return _from_run(Run.from_json(json.loads(path.read_text(encoding="utf-8")), path), folder)


# -- progress ---------------------------------------------------------------------------------


def _in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (whose stderr is no terminal)."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get is not None and type(get()).__name__ == "ZMQInteractiveShell"


@contextmanager
def _progress(wanted: bool | None) -> Iterator[Callable[[str, str], None] | None]:
    """The engine's progress hook: rich's live view on a terminal; elsewhere (a notebook, a log)
    one plain line per step that runs or fails, which every front end shows as it comes."""
    tty = sys.stderr.isatty()
    if wanted is False or (wanted is None and not tty and not _in_notebook()):
        yield None
        return
    if tty:
        from axl.viz._progress import live_progress

        with live_progress(True) as hook:
            yield hook
        return
    yield _print_line


def _print_line(step: str, status: str) -> None:
    if status in ("queued", "cached"):
        return  # a null build of thousands of steps prints one summary line, not thousands
    print(f"  {status:<8} {step}", flush=True)


def _print_summary(result: BuildResult) -> None:
    print(result.summary(), flush=True)
