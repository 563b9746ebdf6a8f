"""``axl run local`` without Typer, and the implementation both front ends call.

Like :mod:`axl.cli._fastbuild`: a warm run should cost little more than starting Python, and
building Typer's command tree costs about 50 ms. :func:`axl.cli.main` offers ``run local``
arguments to :func:`fast_run_local`; anything it does not parse cleanly (``--help``, an unknown
option) returns ``None`` and goes through Typer, so help and usage errors keep one source. A test
checks that both declare the same options.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from axl.cli._fastparse import FastParser, add_build_options


def _parser() -> FastParser:
    p = FastParser("axl run local")
    p.add_argument("--module", "-m", required=True)
    p.add_argument("--subprocess", dest="subprocess_mode", action="store_true")
    add_build_options(p)
    return p


def option_names() -> set[str]:
    """Every option string the fast front end accepts (for the test that compares with Typer)."""
    return _parser().option_names()


def fast_run_local(args: Sequence[str]) -> int | None:
    """Run ``axl run local ARGS`` if they parse cleanly; ``None`` means "let Typer handle it"."""
    ns = _parser().parse_or_none(args)
    return None if ns is None else run_local_command(**vars(ns))


def run_local_command(
    *,
    module: str,
    params: str | None = None,
    jobs: int = 0,
    in_process: bool = False,
    subprocess_mode: bool = False,
    no_cache: bool = False,
    rerun: list[str] | None = None,
    keep_going: bool = False,
    strict: bool = False,
    cache_dir: str | None = None,
    workspace: str | None = None,
    json_out: bool = False,
    remote_cache: str | None = None,
    remote_upload: bool | None = None,
    config: str | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
    warm_env: bool = False,
) -> int:
    """Build the workflow ``module`` here, print the report, return the exit code."""
    from axl.cli._render import render_problem, render_report, write_warnings
    from axl.cluster._config import with_executor
    from axl.errors import UsageError
    from axl.exec import BuildOptions
    from axl.exec._session import run_local
    from axl.viz._progress import live_progress

    if subprocess_mode and in_process:
        raise UsageError(
            "--subprocess and --in-process contradict each other", hint="pick one of them"
        )
    runner = None
    if subprocess_mode:
        from axl.runtime._subprocess import SubprocessRunner

        runner = SubprocessRunner(workspace=workspace)
    options = BuildOptions(
        jobs=jobs,
        in_process=in_process,
        no_cache=no_cache,
        rerun=frozenset(rerun or ()),
        keep_going=keep_going,
        strict=strict,
        runner=runner,
    )
    # A live view only for a person watching: never for --json, pipes or CI logs.
    with live_progress(not json_out and sys.stderr.isatty()) as on_event:
        report = with_executor(
            options,
            lambda: run_local(
                module,
                params_file=params,
                workspace=workspace,
                cache_dir=cache_dir,
                options=options,
                remote_cache=remote_cache,
                remote_upload=remote_upload,
                config=config,
                on_event=on_event,
            ),
            executor=executor,
            scheduler=scheduler,
            warm_env=warm_env,
            workspace=workspace,
        )
    if json_out:
        sys.stdout.write(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(render_report(report))
    sys.stdout.flush()
    write_warnings(report)
    sys.stderr.write(render_problem(report))
    return 0 if report.ok else 1
