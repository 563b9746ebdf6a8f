"""The Typer application object and options shared by several commands."""

from __future__ import annotations

from typing import Annotated

import typer

from axl import __version__

app = typer.Typer(
    name="axl",
    help="Build ML workflows the way Bazel builds software: every step a cached target.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

WorkflowOpt = Annotated[
    str,
    typer.Option("--module", "-m", help="The workflow: module:Class or path/to/file.py:Class."),
]
WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace", help="Workspace root (default: nearest folder with pyproject.toml)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Fail a step that reads a file or environment variable its key does not cover.",
    ),
]
ParamsOpt = Annotated[
    str | None, typer.Option("--params", "-p", help="A YAML file overriding the params step.")
]
ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="A run config (YAML): remote cache, step defaults, params, backend options "
        "for one environment; never what is computed (axl/runconfig.schema.json).",
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"axl {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """axl: build ML workflows the way Bazel builds software."""
