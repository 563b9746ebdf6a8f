"""Executor options shared by every command that builds (``axl run local``, ``axl build``).

A command declares ``executor: ExecutorOpt = None, scheduler: SchedulerOpt = None, warm_env:
WarmEnvOpt = False`` (their argparse twins are in :func:`axl.cli._fastparse.add_build_options`)
and passes them to :func:`axl.cluster._config.with_executor`.
"""

from __future__ import annotations

from typing import Annotated

import typer

ExecutorOpt = Annotated[
    str | None,
    typer.Option(
        "--executor",
        metavar="local|dask",
        help="Where steps that miss the cache run: here (local), or on a Dask cluster "
        "(default: $AXL_EXECUTOR, else [tool.axl] executor, else local).",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="The Dask scheduler (default: $AXL_SCHEDULER, else [tool.axl] scheduler).",
    ),
]
WarmEnvOpt = Annotated[
    bool,
    typer.Option(
        "--warm-env",
        help="Make the locked environment (uv sync --frozen) on every worker before the first "
        "step, and run steps in it ($AXL_WARM_ENV, [tool.axl] warm_env).",
    ),
]
