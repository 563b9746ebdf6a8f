"""``axl outputs [RUN | LABEL] --dest DIR``: copy a build's outputs out under readable names."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from axl.cli._app import JsonOpt, ParamsOpt, WorkspaceOpt, app
from axl.cli._graph import ModuleOpt
from axl.cli._remote_opts import RemoteCacheOpt
from axl.cli._run import CacheDirOpt
from axl.cli._runs import WorkflowNameOpt


@app.command()
def outputs(
    dest: Annotated[
        str,
        typer.Option(
            "--dest",
            "-d",
            help="The folder to write <step>/<output>.<ext> into.",
            show_default=False,
        ),
    ],
    ref: Annotated[
        str | None,
        typer.Argument(
            metavar="[RUN | LABEL]",
            help="A run ('last', an id or a prefix of one) or a workflow target (//pkg:name); "
            "default: the last run.",
            show_default=False,
        ),
    ] = None,
    module: ModuleOpt = None,
    workflow: WorkflowNameOpt = None,
    link: Annotated[
        bool, typer.Option("--link", help="Hard-link the cache's read-only files, not copy.")
    ] = False,
    params: ParamsOpt = None,
    workspace: WorkspaceOpt = None,
    cache_dir: CacheDirOpt = None,
    remote_cache: RemoteCacheOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Copy a build's outputs to DIR as <step>/<output>.<ext>, from the local or remote cache."""
    from axl._loader import find_workspace
    from axl.exec._outputs import choose, export
    from axl.exec._remote_build import build_store
    from axl.exec._session import cache_dir_for
    from axl.viz._model import human_size

    root = find_workspace(explicit=workspace)
    store = build_store(
        root, cache_dir_for(root, cache_dir), remote_cache=remote_cache, remote_upload=False
    )
    what, steps = choose(store, root, ref=ref, module=module, workflow=workflow, params=params)
    written = export(steps, store, Path(dest), link=link)
    if json_out:
        data: dict[str, dict[str, str]] = {}
        for item in written:
            data.setdefault(item.step, {})[item.output] = str(item.path)
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    else:
        for item in written:
            sys.stdout.write(f"{item.path}\n")
    size = human_size(sum(item.record.size for item in written))
    verb = "linked" if link else "copied"
    sys.stderr.write(f"{verb} {len(written)} outputs ({size}) of {what} to {dest}\n")
