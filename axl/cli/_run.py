"""``axl run local``: build a workflow on this machine."""

from __future__ import annotations

from typing import Annotated

import typer

from axl.cli._app import (
    ConfigOpt,
    JsonOpt,
    ParamsOpt,
    StrictOpt,
    WorkflowOpt,
    WorkspaceOpt,
    app,
)
from axl.cli._cluster_opts import ExecutorOpt, SchedulerOpt, WarmEnvOpt
from axl.cli._fastrun import run_local_command
from axl.cli._remote_opts import RemoteCacheOpt, RemoteUploadOpt

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
    strict: StrictOpt = False,
    cache_dir: CacheDirOpt = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
    remote_cache: RemoteCacheOpt = None,
    remote_upload: RemoteUploadOpt = None,
    config: ConfigOpt = None,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
    warm_env: WarmEnvOpt = False,
) -> None:
    """Build the workflow here: cached steps are reused, the rest run."""
    code = run_local_command(
        module=module,
        params=params,
        jobs=jobs,
        in_process=in_process,
        subprocess_mode=subprocess_mode,
        no_cache=no_cache,
        rerun=rerun,
        keep_going=keep_going,
        strict=strict,
        cache_dir=cache_dir,
        workspace=workspace,
        json_out=json_out,
        remote_cache=remote_cache,
        remote_upload=remote_upload,
        config=config,
        executor=executor,
        scheduler=scheduler,
        warm_env=warm_env,
    )
    if code:
        raise typer.Exit(code)
