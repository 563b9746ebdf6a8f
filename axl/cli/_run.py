"""``axl run local``: build a workflow on this machine."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from axl.cli._app import JsonOpt, ParamsOpt, WorkflowOpt, WorkspaceOpt, app
from axl.cli._remote_opts import RemoteCacheOpt, RemoteUploadOpt
from axl.cli._render import render_report
from axl.errors import UsageError
from axl.exec import BuildOptions
from axl.exec._engine import StepRunner
from axl.exec._session import run_local
from axl.viz._progress import live_progress

run_app = typer.Typer(help="Run a workflow.", no_args_is_help=True)
app.add_typer(run_app, name="run")

JobsOpt = Annotated[int, typer.Option("--jobs", "-j", help="Steps run at once (default: cores).")]
CacheDirOpt = Annotated[
    str | None, typer.Option("--cache-dir", help="Cache folder (default: $AXL_CACHE_DIR or .axl).")
]


@run_app.command("local")
def local(
    module: WorkflowOpt,
    params: ParamsOpt = None,
    jobs: JobsOpt = 0,
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Run steps in this process (for debuggers).")
    ] = False,
    subprocess_mode: Annotated[
        bool,
        typer.Option(
            "--subprocess",
            help="Run each step in a fresh `python -m axl.runtime` process (as containers do).",
        ),
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every step; still store the results.")
    ] = False,
    rerun: Annotated[
        list[str] | None, typer.Option("--rerun", help="Run this step even if cached.")
    ] = None,
    keep_going: Annotated[
        bool,
        typer.Option("--keep-going", "-k", help="Go on with independent steps after a failure."),
    ] = False,
    cache_dir: CacheDirOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
    remote_cache: RemoteCacheOpt = None,
    remote_upload: RemoteUploadOpt = None,
) -> None:
    """Build the workflow here: cached steps are reused, the rest run."""
    if subprocess_mode and in_process:
        raise UsageError(
            "--subprocess and --in-process contradict each other", hint="pick one of them"
        )
    options = BuildOptions(
        jobs=jobs,
        in_process=in_process,
        no_cache=no_cache,
        rerun=frozenset(rerun or ()),
        keep_going=keep_going,
        runner=_subprocess_runner(workspace) if subprocess_mode else None,
    )
    # A live view only for a person watching: never for --json, pipes or CI logs.
    with live_progress(not json_out and sys.stderr.isatty()) as on_event:
        report = run_local(
            module,
            params_file=params,
            workspace=workspace,
            cache_dir=cache_dir,
            options=options,
            remote_cache=remote_cache,
            remote_upload=remote_upload,
            on_event=on_event,
        )
    if json_out:
        sys.stdout.write(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(render_report(report))
    if not report.ok:
        raise typer.Exit(1)


def _subprocess_runner(workspace: str | None) -> StepRunner:
    from axl.runtime._subprocess import SubprocessRunner

    return SubprocessRunner(workspace=workspace)
