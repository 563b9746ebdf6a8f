"""``axl cache stats|verify|gc``, ``axl explain`` and ``axl hash``."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

import typer

from axl.cli._app import JsonOpt, ParamsOpt, WorkflowOpt, WorkspaceOpt, app
from axl.cli._run import CacheDirOpt

if TYPE_CHECKING:
    from axl.cache import LocalStore

cache_app = typer.Typer(help="Inspect and maintain the local cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


def _store(workspace: str | None, cache_dir: str | None) -> LocalStore:
    from axl._loader import find_workspace
    from axl.exec._session import open_store

    return open_store(find_workspace(explicit=workspace), cache_dir)


def _print(data: Mapping[str, object], json_out: bool) -> None:
    if json_out:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        return
    for key, value in data.items():
        sys.stdout.write(f"{key}: {value}\n")


@cache_app.command("stats")
def stats(
    workspace: WorkspaceOpt = None, cache_dir: CacheDirOpt = None, json_out: JsonOpt = False
) -> None:
    """Sizes of the cache and what the last build reused."""
    from axl.cache._admin import stats as compute

    _print(compute(_store(workspace, cache_dir)), json_out)


@cache_app.command("verify")
def verify(
    workspace: WorkspaceOpt = None, cache_dir: CacheDirOpt = None, json_out: JsonOpt = False
) -> None:
    """Re-hash every blob; delete corrupt blobs and records whose blobs are gone."""
    from axl.cache._admin import verify as run_verify

    _print(run_verify(_store(workspace, cache_dir)), json_out)


@cache_app.command("gc")
def gc(
    max_size: Annotated[str, typer.Option("--max-size", help="Keep at most this much (500M, 2G).")],
    workspace: WorkspaceOpt = None,
    cache_dir: CacheDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete least-recently-used results down to --max-size (the latest builds, and what running
    builds use or wrote, are kept: safe while builds run)."""
    from axl.cache._admin import gc as run_gc
    from axl.cache._admin import parse_size

    limit = parse_size(max_size)
    _print(run_gc(_store(workspace, cache_dir), limit), json_out)


@app.command("explain")
def explain(
    module: WorkflowOpt,
    step: Annotated[str, typer.Argument(help="The step to explain.")],
    params: ParamsOpt = None,
    workspace: WorkspaceOpt = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Why STEP ran (or was cached) in the last build, naming the key part that changed."""
    from axl.exec._explain import explain as run_explain
    from axl.workflows import load_ir

    ir = load_ir(module, params_file=params, workspace=workspace)
    for line in run_explain(_store(workspace, cache_dir), ir.name, step):
        sys.stdout.write(line + "\n")


@app.command("hash")
def hash_(module: WorkflowOpt, params: ParamsOpt = None, workspace: WorkspaceOpt = None) -> None:
    """Print the workflow's hash (its IR digest). Needs no project (see `axl validate`)."""
    from axl._loader import reading_root
    from axl.workflows import load_ir

    root, _ = reading_root(module, workspace)
    sys.stdout.write(load_ir(module, params_file=params, workspace=root).compute_hash() + "\n")
