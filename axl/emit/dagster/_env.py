"""Where a compiled job's op runs: its workspace, and whether that is the one compiled in.

The generated module pins the workflow's sources, its lockfile and the step code digests. An op
finds the workspace it runs in, refuses a workspace whose files differ from the pinned ones,
and completes the key's environment part with the Python and platform of the interpreter that
runs the step (an emitter cannot know them; ``axl.graph.environment_part`` is the reference).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from axl.errors import RunnerError
from axl.hashing import file_digest


def workspace_root(explicit: str, source: str) -> Path:
    """The workspace: ``explicit``, else ``$AXL_WORKSPACE``, else the nearest folder with a
    ``pyproject.toml`` above ``source`` (the job's module), else above the current folder.

    Raises:
        RunnerError: None is found.
    """
    chosen = explicit or os.environ.get("AXL_WORKSPACE", "")
    if chosen:
        root = Path(chosen).resolve()
        if not root.is_dir():
            raise RunnerError(f"workspace {chosen} is not a folder")
        return root
    for start in (Path(source).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if (folder / "pyproject.toml").is_file():
                return folder
    raise RunnerError(
        f"no pyproject.toml above {Path(source).parent} or the current folder, so the axl "
        "workspace is unknown",
        hint="set AXL_WORKSPACE, or the axl resource's workspace, to the folder compiled in",
    )


def check_compiled(manifest: Mapping[str, Any], root: Path) -> None:
    """Refuse to key a step with digests of sources or a lockfile the workspace no longer has:
    a stale job would otherwise be served cached results of code that is not there any more
    (the runner refuses to *run* such code; this makes hits and misses agree)."""
    from axl.runtime._manifest import safe_relpath

    files = dict(manifest.get("sources", {}))
    pinned = str(manifest.get("environment", {}).get("dependencies", ""))
    kind, _, digest = pinned.partition(":")
    if digest and kind != "requirements":  # else "none", or requirements the sources list
        files[kind] = digest
    for rel, expected in sorted(files.items()):
        path = root / safe_relpath(rel, "the job's manifest")
        if (file_digest(path) if path.is_file() else "absent") != expected:
            raise RunnerError(
                f"{rel} in {root} is not the file the job was compiled from",
                hint="compile the job again (axl compile --target dagster), or run it in the "
                "workspace it was compiled in",
            )


@functools.cache
def interpreter(python: str = "") -> dict[str, str]:
    """The environment key part's Python and platform (as ``axl.graph.environment_part``) of
    the interpreter that runs the step."""
    if not python or python == sys.executable:
        from axl.runtime._cache import interpreter_environment

        return interpreter_environment()
    import json
    import subprocess

    code = (
        "import json, platform, sys; print(json.dumps({'python': '.'.join(map(str, "
        "sys.version_info[:2])), 'platform': f'{sys.platform}-{platform.machine()}'}))"
    )
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
        found: dict[str, str] = json.loads(out.stdout)
    except (OSError, subprocess.CalledProcessError, ValueError) as exc:
        raise RunnerError(f"cannot run the Python {python!r} of the axl resource: {exc}") from None
    return found
