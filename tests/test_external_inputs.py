"""Data from outside the graph (axl.File / axl.Dir), through `axl run local --json` in real
processes: an edit reruns exactly the steps reading it, `touch` reruns nothing, bad input stops the
build before any step runs, and a change racing a step never leaves a result under a stale key."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import axl, write

WF = """
import os
from pathlib import Path

from axl import Dir, File, Workflow, step


class W(Workflow):
    @step
    def params(self) -> dict:
        return {"data": "data/movies.csv"}

    @step
    def rows(self, movies: str) -> int:
        return len(Path(movies).read_text().splitlines())

    @step
    def files(self, raw: str) -> list:
        found = []
        for folder, _, names in os.walk(raw):
            for name in names:
                path = os.path.join(folder, name)
                found.append([os.path.relpath(path, raw), Path(path).read_text()])
        return sorted(found)

    @step
    def total(self, n: int, files: list) -> int:
        return n + len(files)

    @step
    def plain(self, n: int) -> int:
        return n * 2

    def graph(self):
        p = self.params()
        n = self.rows(File(p["data"]))
        return self.total(n, self.files(Dir("data/raw", glob="*.csv"))), self.plain(n)
"""

CACHED = {
    "params": "cached",
    "rows": "cached",
    "files": "cached",
    "total": "cached",
    "plain": "cached",
}


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        write(root / "wf.py", WF)
        write(root / "data/movies.csv", "title,genre\nA,Action\nB,Drama\n")
        write(root / "data/raw/a.csv", "a\n")
        write(root / "data/raw/sub/b.csv", "b\n")
        write(root / "data/raw/notes.txt", "not keyed\n")

    def build(self, *extra: str, code: int = 0) -> dict:
        r = axl("run", "local", "-m", "wf.py:W", "--json", *extra, cwd=self.root)
        assert r.code == code, r.out + r.err
        return json.loads(r.out)

    def statuses(self, *extra: str) -> dict[str, str]:
        return {k: v["status"] for k, v in self.build(*extra)["steps"].items()}

    def explain(self, step: str) -> str:
        r = axl("explain", "-m", "wf.py:W", step, cwd=self.root)
        assert r.code == 0, r.err
        return r.out

    def output(self, step: str) -> object:
        path = self.root / "workspace" / "W" / step
        (found,) = list(path.iterdir())
        return json.loads(found.read_text())


@pytest.fixture
def project(workspace: Path) -> Project:
    p = Project(workspace)
    assert set(p.statuses().values()) == {"ran"}
    return p


def _age(path: Path) -> None:
    """Backdate a file so the stat cache trusts it (files younger than 2 s are re-hashed)."""
    old = path.stat().st_mtime - 10
    os.utime(path, (old, old))


def test_editing_the_file_reruns_its_reader_and_explain_names_it(project: Project) -> None:
    assert project.statuses() == CACHED
    (project.root / "data/movies.csv").write_text("title,genre\nA,Action\nB,Drama\nC,Comedy\n")
    assert project.statuses() == {**CACHED, "rows": "ran", "total": "ran", "plain": "ran"}
    assert "ran because input file data/movies.csv changed" in project.explain("rows")


def test_touch_reruns_nothing_and_restore_is_a_full_hit(project: Project) -> None:
    csv = project.root / "data/movies.csv"
    original = csv.read_bytes()
    os.utime(csv)
    assert project.statuses() == CACHED
    csv.write_text("title,genre\nA,Action\n")
    assert project.statuses()["rows"] == "ran"
    csv.write_bytes(original)
    assert project.statuses() == CACHED


def test_early_cutoff_same_row_count_stops_at_the_reader(project: Project) -> None:
    (project.root / "data/movies.csv").write_text("title,genre\nA,Action\nB,Comedy\n")
    assert project.statuses() == {**CACHED, "rows": "ran"}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("add", "1 file of data/raw/ added"),
        ("remove", "1 file of data/raw/ removed"),
        ("rename", "1 file of data/raw/ added, 1 removed"),
        ("chmod", "1 file of data/raw/ changed"),
        ("edit2", "2 files of data/raw/ changed"),
    ],
)
def test_folder_changes_rerun_the_reader(project: Project, change: str, said: str) -> None:
    raw = project.root / "data/raw"
    if change == "add":
        write(raw / "new/c.csv", "c\n")
    elif change == "remove":
        (raw / "a.csv").unlink()
    elif change == "rename":
        (raw / "a.csv").rename(raw / "z.csv")
    elif change == "chmod":
        (raw / "a.csv").chmod(0o755)
    else:
        (raw / "a.csv").write_text("a2\n")
        (raw / "sub/b.csv").write_text("b2\n")
    statuses = project.statuses()
    assert statuses["files"] == "ran"
    assert statuses["rows"] == "cached"
    assert f"ran because {said}" in project.explain("files")


def test_files_outside_the_glob_are_neither_keyed_nor_seen(project: Project) -> None:
    (project.root / "data/raw/notes.txt").write_text("edited, still not keyed\n")
    write(project.root / "data/raw/more.txt", "x\n")
    os.mkdir(project.root / "data/raw/empty")
    assert project.statuses() == CACHED
    build = project.build("--no-cache")
    assert build["ok"]
    assert project.output("files") == [["a.csv", "a\n"], ["sub/b.csv", "b\n"]]


def test_explain_says_undeclared_reads_are_invisible(project: Project) -> None:
    assert "files it opens itself are not part of its key" in project.explain("plain")
    assert "files it opens itself" not in project.explain("rows")


def test_params_switch_the_dataset(project: Project) -> None:
    write(project.root / "data/other.csv", "title\nX\n")
    write(project.root / "other.yaml", "data: data/other.csv\n")
    statuses = project.statuses("--params", "other.yaml")
    assert statuses["rows"] == "ran"
    assert statuses["files"] == "cached"


def _bad(project: Project, expect: str) -> None:
    r = axl("run", "local", "-m", "wf.py:W", "--json", cwd=project.root)
    assert r.code == 2, r.out + r.err
    lines = r.err.strip().splitlines()
    assert lines[0].startswith("error: step 'rows': input file 'data/movies.csv' "), r.err
    assert expect in lines[0]
    assert lines[1].startswith("hint: "), r.err
    assert len(lines) == 2, r.err
    assert "Traceback" not in r.err


def test_a_deleted_file_stops_the_build_before_any_step(project: Project) -> None:
    runs = project.root / ".axl/runs/W"
    before = len(list(runs.iterdir()))
    (project.root / "data/movies.csv").unlink()
    _bad(project, "does not exist")
    assert len(list(runs.iterdir())) == before  # no step ran, no build was recorded


def test_a_folder_where_a_file_is_expected(project: Project) -> None:
    csv = project.root / "data/movies.csv"
    csv.unlink()
    csv.mkdir()
    _bad(project, "is a folder")


def test_an_unreadable_file(project: Project) -> None:
    csv = project.root / "data/movies.csv"
    csv.unlink()
    csv.symlink_to("movies.csv")  # a link to itself: the OS refuses to open it (even as root)
    _bad(project, "cannot be read")


def test_a_dangling_link_in_a_folder(project: Project) -> None:
    (project.root / "data/raw/gone.csv").symlink_to("nowhere.csv")
    r = axl("run", "local", "-m", "wf.py:W", cwd=project.root)
    assert r.code == 2
    assert "error: step 'files': input dir 'data/raw' holds gone.csv, a link that points" in r.err


def test_a_path_leaving_the_workspace_must_be_absolute(project: Project) -> None:
    write(project.root / "bad.yaml", "data: ../elsewhere.csv\n")
    r = axl("validate", "-m", "wf.py:W", "--params", "bad.yaml", cwd=project.root)
    assert r.code == 2
    assert "a relative path must stay inside the workspace" in r.err
    outside = project.root.parent / "elsewhere.csv"
    outside.write_text("t\n1\n")
    write(project.root / "abs.yaml", f"data: {outside}\n")
    r = axl("validate", "-m", "wf.py:W", "--params", "abs.yaml", cwd=project.root)
    assert r.code == 0
    assert f"note: {outside} is outside the workspace" in r.out
    assert project.statuses("--params", "abs.yaml")["rows"] == "ran"


RACE = """
from pathlib import Path

from axl import Dir, File, Workflow, step


class R(Workflow):
    @step
    def read_file(self, data: str) -> str:
        text = Path(data).read_text()
        # A writer racing the build: the file changes after axl keyed it.
        Path("data/movies.csv").write_text("changed while the step ran\\n")
        return text

    @step
    def read_dir(self, raw: str) -> list:
        names = sorted(p.name for p in Path(raw).iterdir())
        marker = Path("raced")
        if not marker.exists():
            marker.write_text("")
            Path(raw, "late.csv").write_text("arrived while the step ran\\n")
        return names

    def graph(self):
        return self.read_file(File("data/movies.csv")), self.read_dir(Dir("data/raw"))
"""


@pytest.mark.parametrize("mode", ["--in-process", "--subprocess"])
def test_a_change_racing_the_step_never_caches_a_stale_key(workspace: Path, mode: str) -> None:
    write(workspace / "race.py", RACE)
    write(workspace / "data/movies.csv", "original\n")
    write(workspace / "data/raw/a.csv", "a\n")
    r = axl("run", "local", "-m", "race.py:R", "--json", "--keep-going", mode, cwd=workspace)
    build = json.loads(r.out)
    # A file is snapshotted: the step read the keyed bytes, so its result is right for its key.
    assert build["steps"]["read_file"]["status"] == "ran"
    assert (workspace / "workspace/R/read_file").exists()
    out = next((workspace / "workspace/R/read_file").iterdir()).read_bytes()
    assert b"original" in out
    # A folder is read in place: the change is caught after the run and nothing is recorded.
    step = build["steps"]["read_dir"]
    assert step["status"] == "error", step
    assert (
        "input dir 'data/raw' of step 'read_dir' changed while the build used it" in (step["error"])
    )
    again = json.loads(axl("run", "local", "-m", "race.py:R", "--json", mode, cwd=workspace).out)
    assert again["steps"]["read_file"]["status"] == "ran"  # the file now holds other bytes
    assert again["steps"]["read_dir"]["status"] == "ran"


def test_subprocess_and_in_process_agree(project: Project) -> None:
    shutil.rmtree(project.root / ".axl")
    sub = project.build("--subprocess")
    shutil.rmtree(project.root / ".axl")
    inproc = project.build("--in-process")
    for name in sub["steps"]:
        assert sub["steps"][name]["key"] == inproc["steps"][name]["key"], name
        assert (
            sub["steps"][name]["outputs"]["out"]["digest"]
            == (inproc["steps"][name]["outputs"]["out"]["digest"])
        )
