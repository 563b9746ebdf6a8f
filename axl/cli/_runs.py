"""Run history: ``axl runs``, ``axl show RUN``, ``axl logs LABEL STEP``, ``axl report RUN``."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from axl.cli._app import JsonOpt, ParamsOpt, WorkspaceOpt, app
from axl.cli._graph import LabelArg, ModuleOpt, workflow_ir, write_output
from axl.cli._run import CacheDirOpt
from axl.errors import UsageError
from axl.runtime._audit import message

if TYPE_CHECKING:
    from axl.cache._local import LocalStore
    from axl.exec._history import Run, StepRun

WorkflowNameOpt = Annotated[
    str | None,
    typer.Option("--workflow", "-w", help="A workflow by its name (as runs list it)."),
]
RunArg = Annotated[str, typer.Argument(help="A run id (or a unique prefix of one), or 'last'.")]


def _store(workspace: str | None, cache_dir: str | None) -> LocalStore:
    from axl._loader import find_workspace
    from axl.exec._session import open_store

    return open_store(find_workspace(explicit=workspace), cache_dir)


def _workflow_name(
    label: str | None,
    module: str | None,
    name: str | None,
    params: str | None,
    workspace: str | None,
) -> str | None:
    """The workflow a command is about: ``--workflow`` as given, else loaded from LABEL or -m."""
    if name is not None:
        if label is not None or module is not None:
            raise UsageError("--workflow names the workflow already; drop the label or -m")
        return name
    if label is None and module is None:
        return None
    return workflow_ir(label, module, params, workspace)[0].name


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "?"


def _counts(run: Run) -> str:
    return ", ".join(f"{n} {s}" for s, n in run.counts().items()) or "no steps"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


@app.command()
def runs(
    label: LabelArg = None,
    module: ModuleOpt = None,
    workflow: WorkflowNameOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most N (0: all).")] = 20,
    params: ParamsOpt = None,
    workspace: WorkspaceOpt = None,
    cache_dir: CacheDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List recorded builds, newest first (of one workflow, or of all)."""
    from axl.exec._history import list_runs, run_paths

    name = _workflow_name(label, module, workflow, params, workspace)
    store = _store(workspace, cache_dir)
    shown = list_runs(store, name, limit=max(limit, 0))
    recorded = len(run_paths(store, name))
    if json_out:
        sys.stdout.write(json.dumps([r.summary() for r in shown], indent=2, sort_keys=True) + "\n")
        return
    if not shown:
        sys.stderr.write(f"no runs recorded{f' for {name}' if name else ''}\n")
        return
    rows = [["RUN", "WORKFLOW", "STARTED", "TIME", "RESULT", "BACKEND", "STEPS"]]
    for r in shown:
        when, took = _when(r.started), f"{r.seconds:.2f}s"
        rows.append([r.id, r.workflow, when, took, r.result, r.backend, _counts(r)])
    sys.stdout.write(_table(rows))
    if recorded > len(shown):
        sys.stderr.write(f"({recorded - len(shown)} older runs not shown; use --limit 0)\n")


def _outputs(step: StepRun, kind: str) -> str:
    from axl.viz._model import human_size

    outputs = step.outputs
    if kind == "params" and "out" in outputs:
        # The params step also stores each value on its own; the whole dict says enough.
        outputs = {"out": outputs["out"]}
    return ", ".join(f"{n} {r.handler} {human_size(r.size)}" for n, r in outputs.items())


def render_run(run: Run) -> str:
    """``axl show``'s text: a header, one line per step, then errors and tracebacks."""
    who = f" by {run.user}" if run.user else ""
    lines = [
        f"run       {run.id}",
        f"workflow  {run.workflow} ({run.hash[:12]})",
        f"result    {run.result} in {run.seconds:.2f}s ({_counts(run)})",
        f"started   {_when(run.started)} on {run.host or '?'}{who}",
    ]
    if run.data.get("backend_run"):
        lines.append(f"backend   {run.backend} (its run {run.data['backend_run']})")
    else:
        lines.append(f"backend   {run.backend}")
    if run.data.get("output_dir"):
        lines.append(f"outputs   {run.data['output_dir']}")
    kinds = {str(n.get("name")): str(n.get("kind", "step")) for n in run.graph()[0]}
    rows = [["STEP", "STATUS", "TIME", "KEY", "OUTPUTS"]]
    for step in run.ordered_steps():
        secs = f"{step.seconds:.3f}s" if step.status != "cached" else "-"
        rows.append(
            [
                step.name,
                step.status,
                secs,
                (step.key or "-")[:12],
                _outputs(step, kinds.get(step.name, "step")),
            ]
        )
    lines += ["", *("  " + line for line in _table(rows).splitlines())]
    for step in run.ordered_steps():
        if step.status == "skipped" and step.reason:
            lines.append(f"\n{step.name}: skipped: {step.reason}")
        if step.error:
            lines.append(f"\n--- {step.name}: {step.status} ---")
            lines.append((step.traceback or step.error).rstrip())
    lines += [
        f"\nwarning: {message(s.name, list(s.undeclared))}"
        for s in run.ordered_steps()
        if s.undeclared and not s.error
    ]
    return "\n".join(lines) + "\n"


@app.command()
def show(
    run: RunArg,
    workflow: WorkflowNameOpt = None,
    workspace: WorkspaceOpt = None,
    cache_dir: CacheDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one recorded build: each step's status, time, key and outputs, and its errors."""
    from axl.exec._history import find_run

    found = find_run(_store(workspace, cache_dir), run, workflow)
    if json_out:
        sys.stdout.write(json.dumps(found.data, indent=2, sort_keys=True) + "\n")
        return
    sys.stdout.write(render_run(found))


@app.command()
def logs(
    args: Annotated[
        list[str],
        typer.Argument(
            help="[LABEL] STEP: the step (of the workflow LABEL names, unless -m).",
            show_default=False,
        ),
    ],
    module: ModuleOpt = None,
    workflow: WorkflowNameOpt = None,
    run: Annotated[
        str | None, typer.Option("--run", help="The run (default: the workflow's last).")
    ] = None,
    params: ParamsOpt = None,
    workspace: WorkspaceOpt = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Print what a step printed (stdout and stderr) in the last build, cached steps too."""
    from axl.exec._history import find_run, read_logs

    if len(args) > 2:
        raise UsageError(f"expected [LABEL] STEP, got {len(args)} arguments: {' '.join(args)}")
    label, step = (None, args[0]) if len(args) == 1 else (args[0], args[1])
    if label is None and module is None and workflow is None and run is None:
        raise UsageError(
            f"which workflow's step {step!r}?",
            hint="give a label (axl logs //pkg:name STEP), -m module:Class, --workflow or --run",
        )
    name = _workflow_name(label, module, workflow, params, workspace)
    store = _store(workspace, cache_dir)
    found = find_run(store, run or "last", name)
    text = read_logs(store, found, step)
    if not text:
        sys.stderr.write(f"step {step!r} printed nothing in run {found.id}\n")
        return
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command()
def report(
    run: RunArg,
    out: Annotated[str | None, typer.Option("--out", "-o", help="The HTML file to write.")] = None,
    workflow: WorkflowNameOpt = None,
    workspace: WorkspaceOpt = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Write one self-contained HTML page about a build: DAG, timeline, output previews, logs."""
    from axl.exec._history import find_run
    from axl.viz._report_html import build_report

    store = _store(workspace, cache_dir)
    found = find_run(store, run, workflow)
    target = out or f"axl-report-{found.id}.html"
    write_output(build_report(found, store).encode("utf-8"), target)
    sys.stderr.write(f"wrote {target}\n")
