"""Golden files: compared byte for byte; rewritten only by ``make golden``.

``AXL_REGENERATE_GOLDEN=1`` (what ``make golden`` sets) rewrites them instead of comparing, so a
change to anything emitted shows up as a diff to review, never as a silent update in CI.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path

import pytest

REGENERATE = os.environ.get("AXL_REGENERATE_GOLDEN") == "1"


def check_golden(path: Path, actual: bytes | str, what: str) -> None:
    """Fail with a unified diff unless ``actual`` equals ``path``'s bytes (or rewrite the file).

    Args:
        path: The golden file.
        actual: What was emitted now.
        what: How it was produced, for the diff header ("axl compile --target argo ...").
    """
    data = actual.encode() if isinstance(actual, str) else actual
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return
    assert path.is_file(), f"{path} is missing: run `make golden` and review the new file"
    expected = path.read_bytes()
    if data != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.decode(errors="replace").splitlines(keepends=True),
                data.decode(errors="replace").splitlines(keepends=True),
                path.name,
                what,
                n=2,
            )
        )
        pytest.fail(f"{what} differs from {path.name}; if intended, run `make golden`:\n{diff}")
