"""``axl bazel``: write the Bazel targets of a workflow, one action per step (rules/README.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from axl.cli._app import WorkspaceOpt, app
from axl.graph._buildfile import display_path


@app.command()
def bazel(
    label: Annotated[str, typer.Argument(help="The axl_workflow target, e.g. //examples:churn.")],
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 when the file is out of date."),
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Generate pkg/NAME.bazel/BUILD.bazel: the workflow's steps as Bazel targets.

    Run it again after adding, removing or renaming steps or outputs; code, params and lockfile
    changes need no regeneration. An unchanged workflow leaves the file untouched.
    """
    from axl.emit._bazel_gen import generate

    result = generate(label, workspace=workspace, write=not check)
    where = display_path(result.path)
    if not result.changed:
        typer.echo(f"{where} is up to date ({result.steps} steps)")
    elif result.written:
        typer.echo(f"wrote {where} ({result.steps} steps)")
    else:
        typer.echo(f"{where} is out of date: run `axl bazel {label}`", err=True)
        raise typer.Exit(1)
