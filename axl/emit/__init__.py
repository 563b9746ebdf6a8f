"""Emitters: pure translations of a workflow into what another system runs (Argo YAML, ...).

Each target registers by name as ``"module:function"`` and is imported only when used, so
``axl compile --target argo`` never imports Dagster (and the reverse). A target function takes a
:class:`WorkflowBundle` and the target's options (a mapping of option name to value; ``None``
means "not given") and returns a :class:`Compiled`. It raises :class:`axl.errors.UsageError` for
an option it does not take, :class:`axl.errors.EmitError` when the workflow cannot be translated
or the result fails validation.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from axl.emit._bundle import WorkflowBundle, bundle_of, load_bundle
from axl.errors import UsageError

__all__ = [
    "Compiled",
    "Target",
    "WorkflowBundle",
    "bundle_of",
    "compile_workflow",
    "get_target",
    "load_bundle",
    "register_target",
    "target_names",
    "write_output",
]


@dataclass(frozen=True)
class Compiled:
    """An emitter's result: the file's text and what the user should know about it."""

    text: str
    warnings: tuple[str, ...] = ()
    #: One line for the CLI ("Workflow churn: 7 steps, 18 KiB").
    summary: str = ""


Target = Callable[[WorkflowBundle, Mapping[str, Any]], Compiled]

#: Target name -> "module:function". Register new targets here (or with register_target).
_TARGETS: dict[str, str] = {
    "argo": "axl.emit.argo:compile_target",
    "dagster": "axl.emit.dagster:compile_target",
    "kfp": "axl.emit.kfp:compile_target",
}


def register_target(name: str, function: str) -> None:
    """Add (or replace) a target: ``function`` is ``"module:function"``, imported on use."""
    _TARGETS[name] = function


def target_names() -> list[str]:
    """Every registered target, sorted."""
    return sorted(_TARGETS)


def get_target(name: str) -> Target:
    """The emitter registered as ``name``, imported now.

    Raises:
        UsageError: No target has that name.
    """
    where = _TARGETS.get(name)
    if where is None:
        near = get_close_matches(name, list(_TARGETS), n=1)
        raise UsageError(
            f"unknown compile target {name!r}",
            hint=f"did you mean {near[0]}?" if near else f"targets: {', '.join(target_names())}",
        )
    module, _, function = where.partition(":")
    fn: Target = getattr(importlib.import_module(module), function)
    return fn


def compile_workflow(
    target: str,
    spec: str,
    *,
    params_file: str | Path | None = None,
    workspace: str | Path | None = None,
    options: Mapping[str, Any] | None = None,
    config: str | Path | None = None,
) -> Compiled:
    """Load the workflow ``spec`` and compile it for ``target`` (what ``axl compile`` does).

    ``config`` is a run config (:mod:`axl._runconfig`): its step defaults and params apply to
    the workflow, its options to the target unless ``options`` gives them.

    Raises:
        AxlError: Unknown target or option, a workflow that does not load, an emission that
            fails validation, a bad run config.
    """
    from axl._runconfig import configured, load_config, refuse_both_params

    emitter = get_target(name=target)
    run_config = load_config(config) if config is not None else None
    refuse_both_params(params_file, run_config)
    bundle = load_bundle(spec, params_file=params_file, workspace=workspace)
    bundle, merged = configured(bundle, target, dict(options or {}), run_config)
    return emitter(bundle, merged)


def write_output(path: Path, text: str) -> None:
    """Write an emitted file atomically (temporary file + rename), readable like any file the
    user creates (``0666`` minus the umask; a bare temporary file would be ``0600``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(name, 0o666 & ~umask)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
