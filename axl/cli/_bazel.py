"""``axl bazel``: write the Bazel targets of a workflow, one action per step (rules/README.md);
``axl bazel init``: the files a project needs before the first ``bazel build``."""

from __future__ import annotations

from typing import Annotated

import typer

from axl.cli._app import WorkspaceOpt, app
from axl.graph._buildfile import display_path

#: ``axl bazel init`` sets a project up; a target named ``init`` is ``axl bazel :init``.
INIT = "init"


@app.command()
def bazel(
    label: Annotated[
        str,
        typer.Argument(help="The axl_workflow target, e.g. //examples:churn; or `init`."),
    ],
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 when the file is out of date."),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="init: replace files that differ from what axl writes."),
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Generate pkg/NAME.bazel/BUILD.bazel: the workflow's steps as Bazel targets.

    Run it again after adding, removing or renaming steps or outputs; code, params and lockfile
    changes need no regeneration. An unchanged workflow leaves the file untouched.

    `axl bazel init` writes WORKSPACE, BUILD.bazel, .bazelrc and .bazelignore at the workspace
    root (the rules of this axl, the venv's Python); it keeps files that already hold what axl
    needs and replaces one that differs only with --force.
    """
    if label == INIT:
        _init(workspace, force=force, check=check)
        return
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


def _init(workspace: str | None, *, force: bool, check: bool) -> None:
    from axl._loader import find_workspace
    from axl.errors import UsageError
    from axl.scaffold._bazel import init

    if check:
        raise UsageError("axl bazel init has no --check", hint="run axl bazel init")
    root = find_workspace(explicit=workspace)
    for outcome in init(root, force=force):
        typer.echo(outcome.line())
    typer.echo("next: axl bazel //pkg:name, then bazel build //pkg:name")
