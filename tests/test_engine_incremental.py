"""The build engine's promise, through `axl run local --json` in real processes: a change reruns
exactly what it affects, and nothing else."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import axl, write

WF = '''
from axl import Workflow, step

import helpers

FACTOR = 2


def double(x):
    return x * FACTOR


class W(Workflow):
    @step
    def params(self) -> dict:
        return {"a": 1, "b": 10}

    @step
    def left(self, a: int) -> int:
        return double(a)

    @step
    def right(self, b: int) -> int:
        return helpers.inc(b)

    @step
    def join(self, x: int, y: int) -> int:
        """Add the two sides."""
        return x + y

    def graph(self):
        p = self.params()
        return self.join(self.left(p["a"]), self.right(p["b"]))
'''

HELPERS = """
def inc(v):
    return v + 1
"""


class Project:
    """A workspace holding the test workflow, with helpers to edit it and build it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.wf = write(root / "wf.py", WF)
        write(root / "helpers.py", HELPERS)

    def build(self, *extra: str) -> dict:
        r = axl("run", "local", "-m", "wf.py:W", "--json", *extra, cwd=self.root)
        assert r.code in (0, 1), r.err
        return json.loads(r.out)

    def statuses(self, *extra: str) -> dict[str, str]:
        return {k: v["status"] for k, v in self.build(*extra)["steps"].items()}

    def edit(self, path: str, old: str, new: str) -> None:
        file = self.root / path
        text = file.read_text()
        assert old in text, old
        file.write_text(text.replace(old, new))

    def explain(self, step: str) -> str:
        r = axl("explain", "-m", "wf.py:W", step, cwd=self.root)
        assert r.code == 0, r.err
        return r.out


@pytest.fixture
def project(workspace: Path) -> Project:
    p = Project(workspace)
    first = p.statuses()
    assert set(first.values()) == {"ran"}
    return p


ALL_CACHED = {"params": "cached", "left": "cached", "right": "cached", "join": "cached"}


def test_warm_rerun_runs_nothing(project: Project) -> None:
    assert project.statuses() == ALL_CACHED
    assert "cached: its key" in project.explain("join")


def test_editing_a_step_body_reruns_it_and_downstream(project: Project) -> None:
    project.edit("wf.py", "return x + y", "return x + y + 100")
    assert project.statuses() == {**ALL_CACHED, "join": "ran"}
    assert "source of step `join()` in wf.py changed" in project.explain("join")


def test_comments_docstrings_formatting_rerun_nothing(project: Project) -> None:
    project.edit("wf.py", '"""Add the two sides."""', '"""Sum them (docstring)."""  # note')
    project.edit("wf.py", "return x + y", "return (x +\n                y)  # same thing")
    project.edit("wf.py", "def double(x):", "# a comment\ndef double( x ):")
    assert project.statuses() == ALL_CACHED


def test_same_module_helper_reruns_its_users(project: Project) -> None:
    project.edit("wf.py", "return x * FACTOR", "return x * FACTOR * 5")
    assert project.statuses() == {**ALL_CACHED, "left": "ran", "join": "ran"}
    assert "source of `double()` in wf.py changed" in project.explain("left")
    assert "input `x` has a new digest" in project.explain("join")


def test_other_module_helper_reruns_its_users(project: Project) -> None:
    project.edit("helpers.py", "return v + 1", "return v + 2")
    assert project.statuses() == {**ALL_CACHED, "right": "ran", "join": "ran"}
    assert "source of `inc()` in helpers.py changed" in project.explain("right")


def test_module_constant_reruns_its_users(project: Project) -> None:
    project.edit("wf.py", "FACTOR = 2", "FACTOR = 3")
    assert project.statuses() == {**ALL_CACHED, "left": "ran", "join": "ran"}
    assert "module constant `FACTOR` in wf.py changed" in project.explain("left")


def test_lockfile_change_reruns_everything(project: Project) -> None:
    (project.root / "uv.lock").write_text("version = 1\n# another resolution\n")
    statuses = project.statuses()
    assert set(statuses.values()) == {"ran"}
    assert "uv.lock changed" in project.explain("left")


def test_param_change_reruns_only_its_dependents(project: Project) -> None:
    write(project.root / "p.yaml", "a: 5\n")
    statuses = project.statuses("--params", "p.yaml")
    assert statuses == {"params": "ran", "left": "ran", "right": "cached", "join": "ran"}
    assert "input `a` has a new digest" in project.explain("left")


def test_early_cutoff(project: Project) -> None:
    # Same output, different code: left reruns, join stays cached.
    project.edit("wf.py", "return double(a)", "return double(a) + 0")
    assert project.statuses() == {**ALL_CACHED, "left": "ran"}


def test_same_size_edit_in_the_same_second_runs_the_new_code(project: Project) -> None:
    # Python's .pyc check uses mtime (whole seconds) and size: this edit keeps both.
    text = project.wf.read_text()
    stat = project.wf.stat()
    project.wf.write_text(text.replace("return x + y", "return x - y"))
    os.utime(project.wf, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    report = project.build()
    assert report["steps"]["join"]["status"] == "ran"
    out = report["steps"]["join"]["outputs"]["out"]
    from axl import io

    assert io.get(out["handler"]).load(Path(out["path"])) == 2 - 11


def test_rerun_and_no_cache_force_execution(project: Project) -> None:
    assert project.statuses("--rerun", "left") == {**ALL_CACHED, "left": "ran"}
    assert "--rerun left was given" in project.explain("left")
    assert set(project.statuses("--no-cache").values()) == {"ran"}


def _blob(project: Project, step: str) -> Path:
    digest = project.build()["steps"][step]["outputs"]["out"]["digest"]
    return project.root / ".axl" / "cas" / digest[:2] / digest


def test_corrupted_blob_is_detected_and_rebuilt(project: Project) -> None:
    blob = _blob(project, "left")
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[-2] ^= 0xFF
    blob.write_bytes(bytes(data))
    statuses = project.statuses()
    assert statuses["left"] == "ran"
    assert statuses["join"] == "cached"  # rebuilt bytes are identical: early cutoff
    r = axl("cache", "verify", "--json", cwd=project.root)
    assert json.loads(r.out)["bad_blobs"] == 0


def test_deleted_blob_is_detected_and_rebuilt(project: Project) -> None:
    _blob(project, "right").unlink()
    statuses = project.statuses()
    assert statuses["right"] == "ran"
    assert "stored result was missing" in project.explain("right")


FAILING = """
from axl import Workflow, step


class F(Workflow):
    @step
    def good(self) -> int:
        return 1

    @step(retries=1)
    def bad(self, x: int) -> int:
        print("about to fail")
        raise ValueError("boom")

    @step
    def after(self, y: int) -> int:
        return y

    @step
    def other(self, x: int) -> int:
        return x + 1

    def graph(self):
        g = self.good()
        return self.after(self.bad(g)), self.other(g)
"""


def test_failures_are_reported_and_completed_steps_stay_cached(workspace: Path) -> None:
    write(workspace / "f.py", FAILING)
    r = axl("run", "local", "-m", "f.py:F", "--json", "--keep-going", cwd=workspace)
    assert r.code == 1
    report = json.loads(r.out)["steps"]
    assert report["bad"]["status"] == "failed"
    assert report["bad"]["attempts"] == 2
    assert "ValueError: boom" in report["bad"]["traceback"]
    assert report["after"]["status"] == "skipped"
    assert "upstream step 'bad'" in report["after"]["reason"]
    assert report["other"]["status"] == "ran"
    human = axl("run", "local", "-m", "f.py:F", cwd=workspace)
    assert human.code == 1
    assert "FAILED  bad" in human.out
    assert "cached  good" in human.out


SLOW = '''
from pathlib import Path

from axl import Workflow, step
from axl.io import register


class HalfThenWait:
    """Writes half its bytes, then waits: a process killed now leaves a partial file."""

    name = "slowbytes"
    extension = "bin"

    def save(self, value, path):
        with open(path, "wb") as f:
            f.write(value[: len(value) // 2])
            f.flush()
            Path(__file__).with_name("saving").touch()
            import time
            while True:
                time.sleep(0.05)

    def load(self, path):
        return Path(path).read_bytes()

    def accepts(self, value):
        return False

    def metadata(self, path):
        return {}


register(HalfThenWait())


class S(Workflow):
    @step
    def fast(self) -> int:
        return 41

    @step(io_handler="slowbytes")
    def slow(self, x: int) -> bytes:
        return bytes(1_000_000)

    def graph(self):
        return self.slow(self.fast())
'''


def test_sigkill_mid_run_leaves_no_partial_artifact(workspace: Path) -> None:
    write(workspace / "s.py", SLOW)
    proc = subprocess.Popen(
        [sys.executable, "-m", "axl", "run", "local", "-m", "s.py:S", "--json"],
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while not (workspace / "saving").exists():
        assert time.time() < deadline, "the slow step never started saving"
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # Only complete blobs are visible: every blob in the store verifies.
    r = axl("cache", "verify", "--json", cwd=workspace)
    assert r.code == 0, r.err
    assert json.loads(r.out)["bad_blobs"] == 0
    assert not any((workspace / "workspace").glob("*/slow/*"))
    # The next run reuses the step that completed.
    text = (workspace / "s.py").read_text().replace('io_handler="slowbytes"', 'io_handler="pickle"')
    (workspace / "s.py").write_text(text)
    r = axl("run", "local", "-m", "s.py:S", "--json", cwd=workspace)
    assert r.code == 0, r.err
    steps = json.loads(r.out)["steps"]
    assert steps["fast"]["status"] == "cached"
    assert steps["slow"]["status"] == "ran"


def test_two_concurrent_builds_share_one_cache(workspace: Path) -> None:
    write(workspace / "wf.py", WF)
    write(workspace / "helpers.py", HELPERS)
    cmd = [sys.executable, "-m", "axl", "run", "local", "-m", "wf.py:W", "--json"]
    procs = [
        subprocess.Popen(
            cmd, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    reports = [json.loads(o[0]) for o in outs]
    digests = [{k: v["outputs"]["out"]["digest"] for k, v in r["steps"].items()} for r in reports]
    assert digests[0] == digests[1]
    r = axl("cache", "verify", "--json", cwd=workspace)
    assert json.loads(r.out) == {
        "bad_blobs": 0,
        "bad_records": 0,
        "blobs_checked": json.loads(r.out)["blobs_checked"],
        "tmp_removed": json.loads(r.out)["tmp_removed"],
    }
    third = axl("run", "local", "-m", "wf.py:W", "--json", cwd=workspace)
    assert {v["status"] for v in json.loads(third.out)["steps"].values()} == {"cached"}


def test_fast_front_end_declares_the_typer_options() -> None:
    import typer.main

    from axl.cli import app
    from axl.cli._fastrun import option_names

    run = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    command = run.commands["local"]
    declared = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    assert {o for o in declared if o.startswith("-")} - {"--help"} == option_names()


def test_run_local_help_and_usage_errors_go_through_typer(workspace: Path) -> None:
    assert "Build the workflow here" in axl("run", "local", "--help", cwd=workspace).out
    r = axl("run", "local", "--bogus", cwd=workspace)
    assert r.code == 2
    assert r.err.startswith("error: No such option: --bogus")
    r = axl("run", "local", "-m", "wf.py:W", "--in-process", "--subprocess", cwd=workspace)
    assert r.code == 2
    assert r.err.startswith("error: --subprocess and --in-process contradict each other")
