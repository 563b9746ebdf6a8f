"""``axl build-image``: bake a workflow, its locked dependencies and its code into an image.

The work is in :mod:`axl.cli._fastimage`, which :func:`axl.cli.main` also calls directly (without
Typer) when the arguments are plain; this module is the Typer face: help and usage errors.
"""

from __future__ import annotations

from typing import Annotated

import typer

from axl.cli._app import ConfigOpt, JsonOpt, WorkflowOpt, WorkspaceOpt, app
from axl.cli._fastimage import CA_ENV, NETWORK_ENV, run_build_image

_Many = list[str] | None


@app.command("build-image")
def build_image(
    module: WorkflowOpt,
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag",
            "-t",
            help="REPO[:TAG]. The image is always tagged REPO:<key>; TAG is added "
            "(default REPO: the workflow's image repository, else axl/<name>).",
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option("--base", help="The base image (default: python:3.11-slim-bookworm)."),
    ] = None,
    system_packages: Annotated[
        _Many,
        typer.Option("--system-package", help="A Debian package to install at build time."),
    ] = None,
    extras: Annotated[
        _Many, typer.Option("--extra", help="An optional-dependency group to install.")
    ] = None,
    groups: Annotated[
        _Many,
        typer.Option("--group", help="A dependency group to install (default groups are not)."),
    ] = None,
    include: Annotated[
        _Many,
        typer.Option("--include", help="A workspace file or folder to add to the code layer."),
    ] = None,
    build_args: Annotated[
        _Many, typer.Option("--build-arg", help="NAME=VALUE for the builder stage.")
    ] = None,
    ca_bundle: Annotated[
        str | None,
        typer.Option(
            "--ca-bundle",
            help=f"A CA bundle the build trusts (TLS proxies); never in the image. [{CA_ENV}]",
        ),
    ] = None,
    network: Annotated[
        str | None,
        typer.Option("--network", help=f"The build's network mode, e.g. host. [{NETWORK_ENV}]"),
    ] = None,
    push: Annotated[
        bool, typer.Option("--push", help="Push it and print the registry digest.")
    ] = False,
    workspace: WorkspaceOpt = None,
    cache_dir: Annotated[
        str | None, typer.Option("--cache-dir", help="The cache folder (default: .axl).")
    ] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Bake a workflow into an image: its locked dependencies, then its code.

    Nothing is built when an image with the same key exists; a code-only change rebuilds only
    the code layer. Prints the image's tag and ID (and its registry digest with --push).
    """
    code = run_build_image(
        module=module,
        tag=tag,
        base=base,
        system_packages=system_packages,
        extras=extras,
        groups=groups,
        include=include,
        build_args=build_args,
        ca_bundle=ca_bundle,
        network=network,
        push=push,
        workspace=workspace,
        cache_dir=cache_dir,
        json_out=json_out,
        config=config,
    )
    if code:
        raise typer.Exit(code)
