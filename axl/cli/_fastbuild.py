"""``axl build`` without Typer: the warm path of a null build, and the rendering both paths share.

A null build should cost little more than starting Python. Typer (0.29) builds a pydantic
``TypeAdapter`` for every parameter each time a command runs, which imports pydantic and costs
about as much as the whole build. So :func:`axl.cli.main` first offers ``axl build`` arguments to
:func:`fast_build`, a small :mod:`argparse` front end declaring the same options as the Typer
command in :mod:`axl.cli._build` (a test checks they stay the same). Anything it does not parse
cleanly (``--help``, an unknown option, a missing value) returns ``None`` and goes through Typer,
so help and usage errors keep one source.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from axl.cli._fastparse import FastParser, add_build_options

if TYPE_CHECKING:
    from axl.exec._targets import TargetResult
    from axl.viz._progress import BuildProgress


def _parser() -> FastParser:
    p = FastParser("axl build")
    p.add_argument("labels", nargs="+")
    add_build_options(p)
    return p


def option_names() -> set[str]:
    """Every option string the fast front end accepts (for the test that compares with Typer)."""
    return _parser().option_names()


def fast_build(args: Sequence[str]) -> int | None:
    """Run ``axl build ARGS`` if they parse cleanly; ``None`` means "let Typer handle it"."""
    ns = _parser().parse_or_none(args, intermixed=True)
    if ns is None or any(label.startswith("-") for label in ns.labels):
        return None
    return run_build(**vars(ns))


def run_build(
    *,
    labels: list[str],
    jobs: int = 0,
    params: str | None = None,
    in_process: bool = False,
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
    """Build ``labels``, print the results, return the exit code (1 when a target failed)."""
    from axl.cluster._config import with_executor
    from axl.exec import BuildOptions
    from axl.exec._targets import build_targets

    progress = _live_view(json_out)
    options = BuildOptions(
        jobs=jobs,
        in_process=in_process,
        no_cache=no_cache,
        rerun=frozenset(rerun or ()),
        keep_going=keep_going,
        strict=strict,
    )

    def on_target(result: TargetResult) -> None:
        if progress is not None:
            progress.reset()  # the report goes to the same terminal: the view steps aside
        _print_result(result)

    try:
        results = with_executor(
            options,
            lambda: build_targets(
                labels,
                workspace=workspace,
                cache_dir=cache_dir,
                options=options,
                params=params,
                on_target=None if json_out else on_target,
                remote_cache=remote_cache,
                remote_upload=remote_upload,
                on_event=None if progress is None else progress.on_event,
                config=config,
            ),
            executor=executor,
            scheduler=scheduler,
            warm_env=warm_env,
            workspace=workspace,
        )
    finally:
        if progress is not None:
            progress.close()
    if json_out:
        data: dict[str, Any]
        if len(labels) == 1 and _names_one(labels[0]):
            data = results[-1].to_json()
        else:
            data = {str(r.label): r.to_json() for r in results}
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return 0 if all(r.status == "ok" for r in results) else 1


def _live_view(json_out: bool) -> BuildProgress | None:
    """The live view of ``axl run local``, only for a person watching: never for --json, a pipe
    or a CI log (they get the report's one line per step). Imported only then: a null build
    that is not on a terminal pays nothing for it."""
    if json_out or not sys.stderr.isatty():
        return None
    from axl.viz._progress import BuildProgress

    return BuildProgress()


def _names_one(text: str) -> bool:
    from axl.graph._labels import parse_pattern

    return parse_pattern(text, "").kind == "target"


def _print_result(result: TargetResult) -> None:
    from axl.cli._render import render_problem, render_report, write_warnings

    if result.report is None:
        sys.stdout.write(f"{result.label}  {result.status}: {result.reason}\n")
    else:
        sys.stdout.write(f"{result.label}  (load: {result.load})\n")
        sys.stdout.write(render_report(result.report))
    sys.stdout.flush()
    if result.report is not None:
        write_warnings(result.report)
        sys.stderr.write(render_problem(result.report))
