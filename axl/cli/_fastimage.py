"""``axl build-image`` without Typer: the front end both paths share.

As with ``axl build``, :func:`axl.cli.main` first offers the arguments to :func:`fast_build_image`,
an :mod:`argparse` front end with the same options as the Typer command in
:mod:`axl.cli._image` (a test checks they stay the same): a no-change run then costs about as
much as starting Python, not as much as importing Typer. Anything it does not parse cleanly goes
through Typer, so help and usage errors have one source.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from axl.cli._fastparse import FastParser

#: Environment variables that default the options machines differ in (set them in CI).
CA_ENV, NETWORK_ENV = "AXL_BUILD_CA_BUNDLE", "AXL_BUILD_NETWORK"


def _parser() -> FastParser:
    p = FastParser("axl build-image")
    p.add_argument("--module", "-m", required=True)
    p.add_argument("--tag", "-t")
    p.add_argument("--base")
    p.add_argument("--system-package", action="append", dest="system_packages")
    p.add_argument("--extra", action="append", dest="extras")
    p.add_argument("--group", action="append", dest="groups")
    p.add_argument("--include", action="append")
    p.add_argument("--build-arg", action="append", dest="build_args")
    p.add_argument("--ca-bundle")
    p.add_argument("--network")
    p.add_argument("--push", action="store_true")
    p.add_argument("--workspace")
    p.add_argument("--cache-dir")
    p.add_argument("--json", dest="json_out", action="store_true")
    p.add_argument("--config")
    return p


def option_names() -> set[str]:
    """Every option string the fast front end accepts (for the test that compares with Typer)."""
    return _parser().option_names()


def fast_build_image(args: Sequence[str]) -> int | None:
    """Run ``axl build-image ARGS`` if they parse cleanly; ``None`` means "let Typer do it"."""
    ns = _parser().parse_or_none(args)
    return None if ns is None else run_build_image(**vars(ns))


def run_build_image(
    *,
    module: str,
    tag: str | None = None,
    base: str | None = None,
    system_packages: list[str] | None = None,
    extras: list[str] | None = None,
    groups: list[str] | None = None,
    include: list[str] | None = None,
    build_args: list[str] | None = None,
    ca_bundle: str | None = None,
    network: str | None = None,
    push: bool = False,
    workspace: str | None = None,
    cache_dir: str | None = None,
    json_out: bool = False,
    config: str | None = None,
) -> int:
    """Build the image, print the result, return the exit code."""
    from axl.emit.image import DEFAULT_BASE
    from axl.image import ImageOptions, build_image, parse_build_args

    if config is not None:
        from axl._runconfig import load_config

        tag, push = load_config(config).image(tag, push)

    options = ImageOptions(
        tag=tag,
        base=base or DEFAULT_BASE,
        system_packages=tuple(system_packages or ()),
        extras=tuple(extras or ()),
        groups=tuple(groups or ()),
        include=tuple(include or ()),
        build_args=parse_build_args(build_args or []),
        ca_bundle=ca_bundle or os.environ.get(CA_ENV) or None,
        network=network or os.environ.get(NETWORK_ENV) or None,
        push=push,
    )

    def show(line: str) -> None:
        # The build's output goes to stderr, so stdout stays the result (and --json parseable).
        sys.stderr.write(f"  {line}\n")

    result = build_image(
        module,
        options,
        workspace=workspace,
        cache_dir=cache_dir,
        on_line=None if json_out else show,
    )
    if json_out:
        sys.stdout.write(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(result.summary())
    return 0
