"""Loading a manifest's workflow in the runner, and refusing code that is not what was keyed.

Two checks, both before any user step runs:

* ``sources``: each listed file (relative to the workspace root) must have the listed digest, on
  disk before the import and in the bytes axl compiled during it (:data:`axl._loader.SOURCES`;
  axl compiles project modules from their text, never from a stale ``.pyc``);
* ``key_parts.code``: the step's code digests, recomputed here with the same
  :class:`axl.graph.CodeIndex`, must equal the manifest's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from axl import _loader
from axl.dsl import StepDef, Workflow
from axl.errors import AxlError, RunnerError, UsageError
from axl.graph._code import CodeIndex
from axl.graph._keys import explain_change
from axl.hashing import bytes_digest, file_digest
from axl.runtime._logs import JsonLog
from axl.runtime._manifest import safe_relpath


def workspace_root(explicit: Path | None = None) -> Path:
    """The workspace: ``explicit``, else ``$AXL_WORKSPACE``, else the nearest folder upward with
    a pyproject.toml, else the current folder (a baked image need not ship a pyproject.toml)."""
    chosen = explicit or os.environ.get("AXL_WORKSPACE")
    if chosen:
        root = Path(chosen).resolve()
        if not root.is_dir():
            raise RunnerError(f"workspace {chosen} is not a folder", hint="fix AXL_WORKSPACE")
        return root
    try:
        return _loader.find_workspace()
    except UsageError:
        return Path.cwd().resolve()


def load_step(
    manifest: dict[str, Any], entry: dict[str, Any], workspace: Path | None, log: JsonLog
) -> tuple[type[Workflow], StepDef[Any]]:
    """Import the manifest's workflow and return its class and the entry's step, after checking
    that the code is the code the manifest was keyed with.

    Raises:
        RunnerError: The sources differ, the import fails, or the step is not what the manifest
            says it is.
    """
    root = workspace_root(workspace)
    sources: dict[str, str] = manifest.get("sources", {})
    _check_files(sources, root)
    workflow = manifest["workflow"]
    try:
        module = _loader.import_module(workflow["module"], root)
    except AxlError as exc:
        raise RunnerError(exc.render(), hint=exc.hint) from None
    _check_compiled(sources, root)
    cls: Any = module
    for part in workflow["qualname"].split("."):
        cls = getattr(cls, part, None)
    if not (isinstance(cls, type) and issubclass(cls, Workflow)):
        raise RunnerError(
            f"{workflow['module']}.{workflow['qualname']} is not a workflow class",
            hint="the manifest does not match the code in this environment",
        )
    step_def = cls.steps().get(entry["step"])
    if step_def is None:
        raise RunnerError(
            f"workflow {workflow['qualname']} has no step {entry['step']!r}",
            hint="the manifest does not match the code in this environment",
        )
    fn = step_def.fn
    got = {"module": fn.__module__, "qualname": fn.__qualname__}
    if got != entry["function"]:
        raise RunnerError(
            f"step {entry['step']!r} is {got['module']}.{got['qualname']} here, but the manifest "
            f"says {entry['function']['module']}.{entry['function']['qualname']}",
            hint="the manifest does not match the code in this environment",
        )
    if "key_parts" in entry:
        _check_code(entry["key_parts"]["code"], CodeIndex(root).step_code(fn, cls), entry["step"])
    log.note("loaded", module=workflow["module"], workspace=str(root), sources=len(sources))
    return cls, step_def


def _check_files(sources: dict[str, str], root: Path) -> None:
    for rel, digest in sorted(sources.items()):
        path = root / safe_relpath(rel, "source")
        if not path.is_file():
            raise RunnerError(
                f"source file {rel} (listed in the manifest) is missing under {root}",
                hint="run from the workspace the manifest was made in, or set AXL_WORKSPACE",
            )
        if file_digest(path) != digest:
            raise _changed(rel)


def _check_compiled(sources: dict[str, str], root: Path) -> None:
    # The files could change between the check above and the import: what counts is what ran.
    for rel, digest in sources.items():
        data = _loader.SOURCES.get(str((root / rel).resolve()))
        if data is not None and bytes_digest(data) != digest:
            raise _changed(rel)


def _changed(rel: str) -> RunnerError:
    return RunnerError(
        f"source file {rel} differs from the one this step was keyed with; refusing to run "
        "code the action key does not describe",
        hint="emit the manifest again from the current sources (or rebuild the image)",
    )


def _check_code(expected: dict[str, str], actual: dict[str, str], step: str) -> None:
    if expected == actual:
        return
    reasons = explain_change({"code": expected}, {"code": actual, "identity": {"step": step}})
    raise RunnerError(
        f"the code of step {step!r} differs from the code it was keyed with ("
        + "; ".join(reasons or ["code digests differ"])
        + "); refusing to run it",
        hint="emit the manifest again from the current sources (or rebuild the image)",
    )
