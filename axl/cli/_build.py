"""``axl build``: build targets named by labels (``//examples:churn``, ``//pkg:all``, ``//...``).

The work is in :mod:`axl.cli._fastbuild`, which :func:`axl.cli.main` also calls directly (without
Typer) when the arguments are plain; this module is the Typer face: help and usage errors.
"""

from __future__ import annotations

from typing import Annotated

import typer

from axl.cli._app import ConfigOpt, JsonOpt, ParamsOpt, StrictOpt, WorkspaceOpt, app
from axl.cli._cluster_opts import ExecutorOpt, SchedulerOpt, WarmEnvOpt
from axl.cli._fastbuild import run_build
from axl.cli._remote_opts import RemoteCacheOpt, RemoteUploadOpt


@app.command()
def build(
    labels: Annotated[
        list[str],
        typer.Argument(
            help="Targets: //pkg:name, :name, //pkg, //pkg:all, //pkg/... (and their deps)."
        ),
    ],
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Steps run at once (default: cores).")
    ] = 0,
    params: ParamsOpt = None,
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Run steps in this process (for debuggers).")
    ] = False,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Load again and run every step; still store results."),
    ] = False,
    rerun: Annotated[
        list[str] | None, typer.Option("--rerun", help="Run this step even if cached.")
    ] = None,
    keep_going: Annotated[
        bool,
        typer.Option("--keep-going", "-k", help="Go on with independent work after a failure."),
    ] = False,
    strict: StrictOpt = False,
    cache_dir: Annotated[
        str | None,
        typer.Option("--cache-dir", help="Cache folder (default: $AXL_CACHE_DIR or .axl)."),
    ] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
    remote_cache: RemoteCacheOpt = None,
    remote_upload: RemoteUploadOpt = None,
    config: ConfigOpt = None,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
    warm_env: WarmEnvOpt = False,
) -> None:
    """Build targets declared in BUILD files, reusing every cached step.

    A workflow target builds like `axl run local` with the rule's params file. While none of
    the sources it was loaded from changed, the workflow module is not even imported.

    With --json: a single label naming one target prints that workflow's report (as `axl run
    local --json` does); several labels, :all or ... print an object keyed by label.
    """
    code = run_build(
        labels=labels,
        jobs=jobs,
        params=params,
        in_process=in_process,
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
