"""Commands that only read a workflow need no project: outside one, the workflow file's folder is
the root. Commands that build still need a workspace root and say so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO, axl

TINY = REPO / "examples" / "tiny.py"
NOTE = "(no pyproject.toml found: checked with "


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A folder holding only tiny.py, with no pyproject.toml above it."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    shutil.copy(TINY, folder / "tiny.py")
    assert not any((p / "pyproject.toml").exists() for p in (folder, *folder.parents))
    return folder


def test_validate_falls_back_to_the_files_folder_and_says_so_once(scratch: Path) -> None:
    done = axl("validate", "-m", "tiny.py:Tiny", cwd=scratch)
    assert done.code == 0, done.err
    assert done.out.startswith("workflow Tiny: 3 steps, 2 edges, hash ")
    assert done.out.count(NOTE) == 1
    assert done.out.rstrip().endswith(f"{NOTE}{scratch} as the root)")
    alone = axl("validate", "-m", "tiny.py:Tiny", "--json", cwd=scratch)
    assert alone.code == 0, alone.err
    assert NOTE not in alone.out  # --json is the IR only
    # The IR is the one a project holding the same file at its root gets.
    project = _project_copy(scratch)
    in_project = axl("validate", "-m", "tiny.py:Tiny", "--json", cwd=project)
    assert in_project.code == 0, in_project.err
    assert json.loads(alone.out) == json.loads(in_project.out)


def _project_copy(scratch: Path) -> Path:
    project = scratch.parent / "project"
    shutil.copytree(scratch, project)
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    return project


def test_validate_from_another_folder_uses_the_files_folder(scratch: Path) -> None:
    done = axl("validate", "-m", "scratch/tiny.py:Tiny", cwd=scratch.parent)
    assert done.code == 0, done.err
    assert f"{NOTE}{scratch} as the root)" in done.out


def test_hash_graph_and_compile_need_no_project(scratch: Path) -> None:
    in_project = axl("hash", "-m", "tiny.py:Tiny", cwd=_project_copy(scratch))
    alone = axl("hash", "-m", "tiny.py:Tiny", cwd=scratch)
    assert alone.code == 0, alone.err
    assert alone.out == in_project.out
    graph = axl("graph", "-m", "tiny.py:Tiny", "-f", "mermaid", cwd=scratch)
    assert graph.code == 0, graph.err
    assert "make" in graph.out
    assert "total" in graph.out
    argo = axl("compile", "-m", "tiny.py:Tiny", "--target", "argo", cwd=scratch)
    assert argo.code == 0, argo.err
    assert "kind: Workflow" in argo.out
    # Reading leaves nothing behind: no cache, no outputs folder.
    assert sorted(p.name for p in scratch.iterdir() if p.name != "__pycache__") == ["tiny.py"]


@pytest.mark.parametrize(
    "args",
    [
        ("run", "local", "-m", "tiny.py:Tiny"),
        ("explain", "-m", "tiny.py:Tiny", "total"),
        ("build", "//:tiny"),
    ],
)
def test_commands_that_build_still_need_a_project(scratch: Path, args: tuple[str, ...]) -> None:
    done = axl(*args, cwd=scratch)
    assert done.code == 2, done.out
    assert done.err.startswith("error: no pyproject.toml in "), done.err
    assert "hint: run axl inside a project (`axl init` starts one)" in done.err
    assert "Traceback" not in done.err
