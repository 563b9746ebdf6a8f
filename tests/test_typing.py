"""What a type checker sees of the DSL: mypy (the venv's, strict) over the files in tests/typing/.

``reveal_steps.py`` marks each ``reveal_type`` line with the expected type (``# T: ...``);
``misuse.py`` marks each line mypy must reject with a message fragment (``# E: ...``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

TYPING = REPO / "tests" / "typing"
_NOTE = re.compile(r'^(?P<file>[^:]+):(?P<line>\d+): note: Revealed type is "(?P<type>.*)"$')
_ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<message>.*)$")


def _marked(path: Path, marker: str) -> dict[int, str]:
    """Line number -> the text after ``# <marker>:`` on that line."""
    found: dict[int, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        _, sep, expected = line.partition(f"# {marker}: ")
        if sep:
            found[number] = expected.strip()
    return found


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    cache = tmp_path_factory.mktemp("mypy-cache")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-error-summary",
            "--cache-dir",
            str(cache),
            "tests/typing/reveal_steps.py",
            "tests/typing/misuse.py",
        ],
        cwd=REPO,  # so that pyproject.toml's [tool.mypy] (strict) applies
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    # Older mypy spells builtins in full ("builtins.int"); compare the short form.
    return proc.stdout.replace("builtins.", "").splitlines()


def test_reveal_types_of_steps_and_output_refs(mypy_output: list[str]) -> None:
    expected = _marked(TYPING / "reveal_steps.py", "T")
    assert len(expected) >= 10
    revealed: dict[int, str] = {}
    for line in mypy_output:
        match = _NOTE.match(line)
        if match and match["file"].endswith("reveal_steps.py"):
            revealed[int(match["line"])] = match["type"]
    assert revealed == expected
    errors = [line for line in mypy_output if "reveal_steps.py" in line and ": error:" in line]
    assert not errors, "\n".join(errors)


def test_mypy_rejects_misuse(mypy_output: list[str]) -> None:
    expected = _marked(TYPING / "misuse.py", "E")
    assert expected
    errors: dict[int, str] = {}
    for line in mypy_output:
        match = _ERROR.match(line)
        if match and match["file"].endswith("misuse.py"):
            errors[int(match["line"])] = match["message"]
    assert sorted(errors) == sorted(expected), "\n".join(mypy_output)
    for number, fragment in expected.items():
        assert fragment in errors[number]
