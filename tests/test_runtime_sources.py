"""External inputs through ``python -m axl.runtime``: a manifest's ``source`` leaves are found
under --inputs or in the workspace, keyed, and refused when they are not the data keyed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from runtime_helpers import Run, emit, runner, save

from axl.hashing import file_digest

WF = """
from pathlib import Path

from axl import Dir, File, Workflow, step


class Data(Workflow):
    @step
    def count(self, movies: str, raw: str) -> dict:
        names = sorted(p.name for p in Path(raw).iterdir())
        return {"rows": len(Path(movies).read_text().splitlines()), "files": names}

    @step
    def as_object(self, table: dict) -> int:
        return len(table)

    def graph(self):
        return (
            self.count(File("data/movies.csv"), Dir("data/raw")),
            self.as_object.named("obj")(File("data/table.json")),
        )
"""


@pytest.fixture
def data(workspace: Path) -> Path:
    sys.modules.pop("data_wf", None)
    (workspace / "data_wf.py").write_text(WF)
    (workspace / "data" / "raw").mkdir(parents=True)
    (workspace / "data" / "movies.csv").write_text("t\nA\nB\n")
    (workspace / "data" / "raw" / "a.csv").write_text("a\n")
    (workspace / "data" / "table.json").write_text('{"a": 1, "b": 2}')
    return workspace


def _run(root: Path, manifest: dict, step: str, *extra: str | Path) -> Run:
    path = save(root / "m.json", manifest)
    return runner("--manifest", path, "--step", step, "--outputs", root / "o", *extra, cwd=root)


def test_the_runner_keys_data_it_finds_in_the_workspace(data: Path) -> None:
    manifest, _ = emit("data_wf.py:Data", data)
    leaf = manifest["steps"]["count"]["inputs"]["movies"]["source"]
    assert leaf["digest"] is None
    assert leaf["location"] == "data/movies.csv"
    run = _run(data, manifest, "count", "--workspace", data)
    assert run.code == 0, run.err
    result = json.loads((data / "o" / "axl-result.json").read_text())
    assert result["inputs"]["movies"] == {"file": file_digest(data / "data" / "movies.csv")}
    run = _run(data, manifest, "obj", "--workspace", data)
    assert run.code == 0, run.err


def test_a_file_that_is_not_the_keyed_one_is_refused(data: Path) -> None:
    manifest, _ = emit("data_wf.py:Data", data)
    leaf = manifest["steps"]["count"]["inputs"]["movies"]["source"]
    leaf["digest"] = file_digest(data / "data" / "movies.csv")
    (data / "data" / "movies.csv").write_text("t\nA\nB\nC\n")  # edited after it was keyed
    run = _run(data, manifest, "count", "--workspace", data)
    assert run.code == 2
    message = run.errors[-1]["message"]
    assert "input 'movies' (file data/movies.csv)" in message
    assert "but the step was keyed with" in message
    assert not (data / "o" / "out.pkl").exists()


def test_a_folder_that_is_not_the_keyed_one_is_refused(data: Path) -> None:
    manifest, _ = emit("data_wf.py:Data", data)
    manifest["steps"]["count"]["inputs"]["raw"]["source"]["digest"] = "0" * 64
    run = _run(data, manifest, "count", "--workspace", data)
    assert run.code == 2
    assert "folder" in run.errors[-1]["message"]
    assert "keyed with 000000000000" in run.errors[-1]["message"]


def test_a_copy_under_inputs_is_used_first(data: Path) -> None:
    manifest, _ = emit("data_wf.py:Data", data)
    leaf = manifest["steps"]["count"]["inputs"]["movies"]["source"]
    inputs = data / "in"
    (inputs / leaf["path"]).parent.mkdir(parents=True, exist_ok=True)
    (inputs / leaf["path"]).write_text("t\nonly one\n")
    run = _run(data, manifest, "count", "--workspace", data, "--inputs", inputs)
    assert run.code == 0, run.err
    result = json.loads((data / "o" / "axl-result.json").read_text())
    assert result["inputs"]["movies"] == {"file": file_digest(inputs / leaf["path"])}


def test_missing_data_exits_2(data: Path) -> None:
    manifest, _ = emit("data_wf.py:Data", data)
    (data / "data" / "movies.csv").unlink()
    run = _run(data, manifest, "count", "--workspace", data)
    assert run.code == 2
    assert "input 'movies' (file data/movies.csv) is missing" in run.errors[-1]["message"]
