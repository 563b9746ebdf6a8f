"""The example notebook, executed by a real Jupyter kernel (ipykernel, driven by nbclient).

Each execution starts a fresh kernel, so the second run is "a rerun after a kernel restart". The
steps are defined in cells, keyed from the cells' source, and run in forked worker processes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbclient
import nbformat
import pytest
from conftest import REPO

import axl

NOTEBOOK = REPO / "examples" / "notebook.ipynb"


#: A cell the test appends once: a cell-defined step runs in a worker process, not the kernel.
IN_A_WORKER = """
import os

class Pid(Workflow):
    @step
    def pid(self) -> int:
        return os.getpid()

    def graph(self):
        return self.pid()

assert axl.build(Pid, jobs=2, no_cache=True)["pid"] != os.getpid()
"""


def _execute(
    folder: Path, edits: dict[str, str] | None = None, extra: str | None = None
) -> nbformat.NotebookNode:
    """Run the notebook in a new kernel in ``folder``, after replacing each key of ``edits``
    (which must occur in exactly one cell) by its value, with an ``extra`` cell at the end."""
    nb = nbformat.read(folder / "notebook.ipynb", as_version=4)
    for old, new in (edits or {}).items():
        cells = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
        assert len(cells) == 1, f"{old!r} is in {len(cells)} cells"
        cells[0].source = cells[0].source.replace(old, new)
    if extra is not None:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    return nb


def _statuses(folder: Path) -> dict[str, str]:
    last = axl.results("NotebookFlow", workspace=folder)
    return {name: step.status for name, step in last.steps.items()}


def test_the_example_notebook_is_small_and_stripped() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert len(nb.cells) <= 12


def test_notebook_builds_reruns_cached_and_edits_rerun_what_they_reach(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AXL_CACHE_DIR", raising=False)  # the kernel inherits the environment
    shutil.copy(NOTEBOOK, workspace / "notebook.ipynb")

    nb = _execute(workspace, extra=IN_A_WORKER)  # raises if a cell raises
    assert set(_statuses(workspace).values()) == {"ran"}
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "  ran      features" in text
    assert "NotebookFlow: ok in" in text
    last = nb.cells[-2].outputs[0]["data"]["text/plain"]
    assert last == "{'mean': 1.034971, 'n': 20}"
    first = axl.results("NotebookFlow", workspace=workspace)
    code = first.steps  # cell code is keyed by its source, never the kernel's file names
    assert code["features"].key

    _execute(workspace)  # a new kernel: everything is cached
    assert set(_statuses(workspace).values()) == {"cached"}
    again = axl.results("NotebookFlow", workspace=workspace)
    assert {n: s.key for n, s in again.steps.items()} == {n: s.key for n, s in code.items()}

    # A helper's cell edited: the one step that calls it and its downstream run again.
    _execute(workspace, {"r * factor": "r * factor * 3"})
    assert _statuses(workspace) == {
        "params": "cached",
        "data": "cached",
        "features": "ran",
        "summary": "ran",
        "count": "cached",
    }
    # A step edited in the workflow's cell: that step only (it has no downstream).
    _execute(workspace, {'"mean": round': '"average": round'})
    assert _statuses(workspace) == {
        "params": "cached",
        "data": "cached",
        "features": "cached",
        "summary": "ran",
        "count": "cached",
    }
    # Formatting and comments are not code: a reformatted cell stays cached.
    _execute(
        workspace, {"return [round(r * factor, 6)": "# scaled\n    return [round( r*factor , 6)"}
    )
    assert set(_statuses(workspace).values()) == {"cached"}
