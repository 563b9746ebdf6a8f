"""Golden IR JSON for the examples, compared byte for byte.

The goldens live in ``tests/golden/ir/<case>.json``. They change only by ``make golden`` (which sets
``AXL_REGENERATE_GOLDEN=1``), never in CI, so a change to the IR shows up as a reviewed diff.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import REPO
from golden_files import check_golden

from axl import ir

GOLDEN = REPO / "tests" / "golden" / "ir"

#: Case name -> workflow spec, relative to the repository root. Add each new example here.
CASES = {
    "tiny": "examples/tiny.py:Tiny",
    "fanout": "examples/fanout.py:FanOut",
    "movies": "examples/movies.py:MovieStats",
}


def _ir_json(spec: str) -> bytes:
    """``axl validate --json`` as a user runs it, from the repository root, as raw bytes."""
    proc = subprocess.run(
        [sys.executable, "-m", "axl", "validate", "-m", spec, "--json"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_ir(case: str) -> None:
    check_golden(GOLDEN / f"{case}.json", _ir_json(CASES[case]), "axl validate --json")


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_ir_is_canonical_and_machine_independent(case: str) -> None:
    text = (GOLDEN / f"{case}.json").read_text(encoding="utf-8")
    assert ir.dumps(ir.loads(text)) == text  # loads back to the same IR, dumps to the same bytes
    assert str(REPO) not in text
    assert "/home/" not in text
    assert "/tmp/" not in text


def test_golden_ir_has_no_stale_files() -> None:
    stale = sorted(p.stem for p in GOLDEN.glob("*.json") if p.stem not in CASES)
    assert not stale, f"golden files without a case in CASES: {stale}"
