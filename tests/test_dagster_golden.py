"""Golden Dagster modules for the examples, compared byte for byte.

The goldens live in ``tests/golden/dagster/<case>.py``; ``examples/churn_dagster.py`` (what the
README tells users to run with ``dagster dev -f``) is the churn golden's twin. Both change only
with ``make golden`` (``AXL_REGENERATE_GOLDEN=1``), never in CI, so a change to the emitter, the
examples' code or ``uv.lock`` (the module pins all three) shows up as a reviewed diff.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from golden_files import REGENERATE, check_golden

from axl.emit import write_output

GOLDEN = REPO / "tests" / "golden" / "dagster"
EXAMPLE = REPO / "examples" / "churn_dagster.py"
RUFF = Path(sys.executable).with_name("ruff")

#: Case name -> `axl compile` arguments, run from the repository root. Add each new example here.
CASES = {
    "tiny": ["-m", "examples/tiny.py:Tiny"],
    "fanout": ["-m", "examples/fanout.py:FanOut"],
    "churn": ["-m", "examples/churn_workflow.py:ChurnWorkflow", "-p", "examples/churn.yaml"],
    "movies": ["-m", "examples/movies.py:MovieStats"],
}


def _compile(args: list[str]) -> bytes:
    """``axl compile --target dagster`` as a user runs it, from the repository root."""
    proc = subprocess.run(
        [sys.executable, "-m", "axl", "compile", "--target", "dagster", *args],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b""  # no warnings for the examples
    return proc.stdout


def _compare(expected_path: Path, actual: bytes, what: str) -> None:
    check_golden(expected_path, actual, what)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_dagster(case: str) -> None:
    actual = _compile(CASES[case])
    path = GOLDEN / f"{case}.py"
    if REGENERATE:
        write_output(path, actual.decode())
        if case == "churn":
            write_output(EXAMPLE, actual.decode())
        return
    _compare(path, actual, f"axl compile --target dagster {' '.join(CASES[case])}")


def test_golden_dagster_example_is_the_churn_golden() -> None:
    # The module users run is exactly what axl emits for the churn example.
    if REGENERATE:
        return
    _compare(GOLDEN / "churn.py", EXAMPLE.read_bytes(), "examples/churn_dagster.py")


def test_golden_dagster_is_formatted_and_lint_clean() -> None:
    files = [str(GOLDEN / f"{case}.py") for case in sorted(CASES)]
    # Explicit paths are checked even though tests/golden is excluded from the project's runs.
    fmt = subprocess.run(
        [str(RUFF), "format", "--check", "--diff", *files], capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    lint = subprocess.run(
        [str(RUFF), "check", "--no-cache", str(EXAMPLE)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_dagster_is_machine_independent_python(case: str) -> None:
    text = (GOLDEN / f"{case}.py").read_text(encoding="utf-8")
    tree = ast.parse(text)  # valid Python, without importing Dagster
    assert ast.get_docstring(tree)
    # Nothing of the machine that compiled: no paths, no Python version or platform (those of
    # the process running the op are filled in when it runs).
    for needle in (str(REPO), "/home/", "/tmp/", '"platform"', '"python"'):
        assert needle not in text, needle
    assert "import axl\n" not in text
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {"defs", "MANIFEST"} <= {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if hasattr(t, "id")
    }
    assert names  # ops and a job


def test_golden_dagster_has_no_stale_files() -> None:
    stale = sorted(p.stem for p in GOLDEN.glob("*.py") if p.stem not in CASES)
    assert not stale, f"golden files without a case in CASES: {stale}"
