"""Saying where, and most likely why, a manifest's text is not JSON.

Manifests axl writes are JSON by construction, with one exception: Argo substitutes submitted
workflow parameters (``argo submit -p mode=fast``) into the params step's manifest as they are
typed, and each is meant to be JSON text. ``fast`` is not (``"fast"`` is), so a manifest that
breaks inside a params step's ``params`` values names the parameter and how to quote it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from axl.errors import RunnerError

_KEY = re.compile(r'^(\s*)("(?:[^"\\]|\\.)*")\s*:')
_PARAMS = re.compile(r'^\s*"params"\s*:\s*\{\s*$')


def not_json_error(path: Path, raw: bytes, exc: ValueError) -> RunnerError:
    """The error for the manifest at ``path`` whose text ``raw`` failed to parse with ``exc``."""
    if not isinstance(exc, json.JSONDecodeError):  # not even UTF-8
        return RunnerError(
            f"manifest {path} is not valid JSON: {exc}",
            hint="the file is truncated or corrupt; emit it again",
        )
    lines = raw.decode("utf-8", errors="replace").splitlines()
    at = min(max(exc.lineno, 1), max(len(lines), 1)) - 1
    param = _params_key(lines, at)
    if param is not None:
        name, value = param
        return RunnerError(
            f"manifest {path}: the value of params key {name!r} is not JSON: {value!r} "
            f"({exc.msg}); it is the workflow parameter {name!r} as it was submitted",
            hint=f"workflow parameters are JSON text: quote strings (argo submit -p "
            f"{name}='\"text\"'), write numbers, true/false and lists as JSON",
        )
    shown = lines[at].strip() if lines else ""
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return RunnerError(
        f"manifest {path} is not valid JSON at line {exc.lineno}, column {exc.colno}: "
        f"{exc.msg} (the line reads {shown!r})",
        hint="the file is truncated or corrupt; emit it again",
    )


def _params_key(lines: list[str], at: int) -> tuple[str, str] | None:
    """``(key, value text)`` when line ``at`` lies in a value of a ``"params": {...}`` object."""
    for index in range(at, -1, -1):
        match = _KEY.match(lines[index])
        if match is None:
            continue
        indent = len(match.group(1))
        parent = next(
            (lines[j] for j in range(index - 1, -1, -1) if _indent(lines[j]) < indent), ""
        )
        if not _PARAMS.match(parent):
            return None
        try:
            name = str(json.loads(match.group(2)))
        except ValueError:
            return None
        value = lines[index][match.end() :].strip().removesuffix(",").strip()
        return name, value if len(value) <= 60 else value[:57] + "..."
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" ")) if line.strip() else 1 << 30
