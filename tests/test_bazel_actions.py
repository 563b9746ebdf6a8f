"""The commands Bazel's actions run (``python -m axl.emit._bazel_actions``), without Bazel.

Each test lays out what a Bazel execroot holds (the declared sources at workspace-relative paths,
outputs under ``bazel-out/.../bin/<package>``) and runs the commands as the rules do, in fresh
processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write

from axl.emit._bazel import RECORD
from axl.emit._bazel_actions import VOLATILE

FLOW = """
from axl import Workflow, step


class Flow(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 4, "k": 1}

    @step(io_handler="pickle")
    def make(self, n: int) -> list:
        if n < 0:
            raise ValueError("n must not be negative")
        print("making", n)
        return list(range(n))

    @step(outputs=("low", "high"))
    def cut(self, xs: list, k: int) -> tuple:
        return xs[:k], xs[k:]

    @step(io_handler="json")
    def report(self, low: list, high: list) -> dict:
        return {"low": sum(low), "high": sum(high)}

    def graph(self):
        p = self.params()
        low, high = self.cut(self.make(p["n"]), p["k"])
        return self.report(low, high)
"""

STEPS = ("params", "make", "cut", "report")
BIN = "bazel-out/k8-fastbuild/bin/pkg/flow.bazel"


def _execroot(tmp_path: Path, params: str = "n: 5\n") -> Path:
    root = tmp_path / "execroot"
    write(root / "pkg" / "flow.py", FLOW)
    write(root / "pkg" / "flow.yaml", params)
    write(root / "uv.lock", "version = 1\n")
    return root


def _shape(root: Path) -> str:
    """The shape ``axl bazel`` would write (computed in a fresh process: every test's workflow
    is a module named ``pkg.flow``)."""
    code = (
        "import sys\n"
        "from axl.emit._bazel import plan_ir\n"
        "from axl.workflows import load_ir\n"
        "print(plan_ir(load_ir('pkg.flow:Flow', workspace=sys.argv[1])).shape)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _action(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXL_")}
    return subprocess.run(
        [sys.executable, "-m", "axl.emit._bazel_actions", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def _manifests(root: Path, shape: str) -> subprocess.CompletedProcess[str]:
    steps = [a for s in STEPS for a in ("--step", s)]
    return _action(
        root,
        "manifests",
        "--workflow",
        "pkg.flow:Flow",
        "--shape",
        shape,
        "--out",
        f"{BIN}/axl.manifests",
        "--params",
        "pkg/flow.yaml",
        "--lockfile",
        "uv.lock",
        "--regenerate",
        "axl bazel //pkg:flow",
        "--src",
        "pkg/flow.py",
        *steps,
    )


def _step(root: Path, name: str) -> subprocess.CompletedProcess[str]:
    return _action(
        root,
        "step",
        "--manifest",
        f"{BIN}/axl.manifests/{name}.json",
        "--step",
        name,
        "--inputs",
        BIN,
        "--outputs",
        f"{BIN}/{name}",
        "--src",
        "pkg/flow.py",
    )


def test_manifests_then_steps_build_the_workflow_quietly(tmp_path: Path) -> None:
    root = _execroot(tmp_path)
    done = _manifests(root, _shape(root))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (root / BIN / "axl.manifests").iterdir()) == sorted(
        f"{s}.json" for s in STEPS
    )
    for name in STEPS:
        ran = _step(root, name)
        assert ran.returncode == 0, ran.stderr
        assert (ran.stdout, ran.stderr) == ("", "")  # Bazel would print it for every step
    assert json.loads((root / BIN / "report" / "out.json").read_text()) == {"low": 0, "high": 10}
    record = json.loads((root / BIN / "cut" / RECORD).read_text())
    assert record["status"] == "ok"
    assert record["outputs"]["low"]["handler"] == "json"  # decided at run time
    assert not set(VOLATILE) & set(record)
    # The sandbox's copies are gone: nothing but outputs lands in the execroot.
    assert sorted(p.name for p in root.iterdir()) == ["bazel-out", "pkg", "uv.lock"]


def test_result_record_is_byte_stable(tmp_path: Path) -> None:
    root = _execroot(tmp_path)
    assert _manifests(root, _shape(root)).returncode == 0
    assert _step(root, "params").returncode == 0
    assert _step(root, "make").returncode == 0
    first = (root / BIN / "make" / RECORD).read_bytes()
    assert _step(root, "make").returncode == 0
    assert (root / BIN / "make" / RECORD).read_bytes() == first


def test_shape_mismatch_says_to_regenerate(tmp_path: Path) -> None:
    root = _execroot(tmp_path)
    done = _manifests(root, "0" * 64)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: workflow pkg.flow:Flow no longer matches its generated Bazel targets (its "
        "steps, their outputs or what they read changed)",
        "hint: run `axl bazel //pkg:flow` and build again",
    ]
    assert not (root / BIN / "axl.manifests").exists()


def test_an_undeclared_project_module_is_not_imported(tmp_path: Path) -> None:
    root = _execroot(tmp_path)
    write(root / "pkg" / "helpers.py", "LIMIT = 3\n")
    flow = root / "pkg" / "flow.py"
    flow.write_text("from pkg.helpers import LIMIT\n" + flow.read_text())
    shape = _shape(root)
    done = _manifests(root, shape)  # --src names flow.py only
    assert done.returncode == 2
    error, hint = done.stderr.splitlines()
    assert error.startswith("error: pkg/flow.py:1: ")
    assert "No module named 'pkg.helpers'" in error
    assert "`axl bazel //pkg:flow`" in hint


def test_a_failing_step_shows_the_runner_output(tmp_path: Path) -> None:
    root = _execroot(tmp_path, params="n: -1\n")
    assert _manifests(root, _shape(root)).returncode == 0
    assert _step(root, "params").returncode == 0
    ran = _step(root, "make")
    assert ran.returncode == 1
    assert "n must not be negative" in ran.stderr
    assert ran.stderr.endswith("axl: step make failed (runner exit code 1)\n")
    assert not (root / BIN / "make" / RECORD).exists()


def test_a_missing_input_is_the_runners_error(tmp_path: Path) -> None:
    root = _execroot(tmp_path)
    assert _manifests(root, _shape(root)).returncode == 0
    ran = _step(root, "make")  # params never ran
    assert ran.returncode == 2
    assert "is missing" in ran.stderr


@pytest.mark.parametrize("args", [[], ["step"], ["manifests", "--workflow", "x:Y"], ["nope"]])
def test_bad_arguments_are_one_error(tmp_path: Path, args: list[str]) -> None:
    done = _action(tmp_path, *args)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0].startswith("error: ")
    assert lines[1] == "hint: this command is run by Bazel actions of rules/axl.bzl"
