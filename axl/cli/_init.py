"""``axl init [DIR]``: start a project that builds (see :mod:`axl.scaffold._project`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from axl.cli._app import app


@app.command("init")
def init(
    folder: Annotated[str, typer.Argument(help="The project folder (created when missing).")] = ".",
) -> None:
    """Write a small runnable project: pyproject.toml, BUILD, a workflow, its params, uv.lock.

    Refuses to overwrite any file. Then `axl build //:NAME` builds it (NAME: the folder's name).
    """
    from axl.graph._buildfile import display_path
    from axl.scaffold._project import init_project

    created = init_project(Path(folder))
    where = display_path(created.root)
    for outcome in created.files:
        typer.echo(outcome.line().replace(outcome.path, f"{where}/{outcome.path}", 1))
    if created.lock_note:
        typer.echo(f"note: {created.lock_note}")
    cd = "" if where == "." else f"cd {where} && "
    typer.echo(f"next: {cd}axl build //:{created.target}   (a second build reuses every step)")
