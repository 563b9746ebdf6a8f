"""Code keys of code defined in notebook cells: read from the source IPython keeps in linecache.

The cells here are registered in :mod:`linecache` under the names ipykernel gives them and run
as ``__main__`` code, as a kernel does (``test_api_notebook.py`` runs a real kernel).
"""

from __future__ import annotations

import linecache
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from axl.graph._code import CodeIndex

KERNEL = "/tmp/ipykernel_4242424"


class Cells:
    """A fake kernel session: run cells in one ``__main__`` namespace."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {"__name__": "__main__"}
        self.names: list[str] = []

    def run(self, source: str) -> None:
        source = textwrap.dedent(source).lstrip()
        name = f"{KERNEL}/{abs(hash(source))}.py"
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        self.names.append(name)
        exec(compile(source, name, "exec"), self.ns)  # noqa: S102 - this is what a kernel does


@pytest.fixture
def cells() -> Iterator[Cells]:
    session = Cells()
    yield session
    for name in session.names:
        linecache.cache.pop(name, None)


def _code(cells: Cells, root: Path, step: str = "s") -> dict[str, str]:
    cls = cells.ns["W"]
    return CodeIndex(root).step_code(cls.steps()[step].fn, cls)


FLOW = """
from axl import Workflow, step

class W(Workflow):
    @step
    def s(self) -> int:
        return helper(2)

    @step
    def t(self, x: int) -> int:
        return x

    def graph(self):
        return self.t(self.s())
"""


def test_cell_code_is_keyed_from_its_source(cells: Cells, tmp_path: Path) -> None:
    cells.run("N = 3")
    cells.run("def helper(x):\n    return x * N")
    cells.run(FLOW)
    code = _code(cells, tmp_path)
    assert set(code) == {"def:<cell>:W.s", "def:<cell>:helper", "const:<cell>:N"}
    assert set(_code(cells, tmp_path, "t")) == {"def:<cell>:W.t"}

    cells.run("def helper(x):\n    # a comment, and other formatting\n    return x*N")
    assert _code(cells, tmp_path) == code  # normalised as for files
    cells.run("N = 4")  # the constant's newest cell is the one keyed
    changed = _code(cells, tmp_path)
    assert changed["const:<cell>:N"] != code["const:<cell>:N"]
    assert changed["def:<cell>:helper"] == code["def:<cell>:helper"]
    cells.run("def helper(x):\n    return x + N")
    assert _code(cells, tmp_path)["def:<cell>:helper"] != code["def:<cell>:helper"]


def test_only_main_code_is_read_from_cells(cells: Cells, tmp_path: Path) -> None:
    # A third-party function whose source a traceback put in linecache is never walked.
    from axl.graph import _cells

    assert _cells.cell_file(textwrap.dedent) is None
    linecache.getlines(textwrap.__file__)
    assert _cells.cell_file(textwrap.dedent) is None
    cells.run("def f():\n    return 1")
    assert _cells.cell_file(cells.ns["f"]) == cells.names[-1]
