"""A fresh clone of axl is a Bazel workspace: `make setup` then `bazel build //examples:churn`
(real Bazel, offline) writes the bytes `axl build //examples:churn` writes.

The clone is of this checkout's HEAD: commit before running it. uv installs from its cache only
(UV_OFFLINE), as the tests talk to nothing beyond this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from bazel_helpers import assert_same_outputs, bazel_in
from conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _run(args: list[str], cwd: Path, **env: str) -> str:
    proc = subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert proc.returncode == 0, f"{args}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc.stdout


def test_a_fresh_clone_builds_with_bazel_what_axl_builds(tmp_path: Path) -> None:
    clone = tmp_path / "somewhere" / "axl"
    _run(["git", "clone", "--quiet", str(REPO), str(clone)], tmp_path)
    # Nothing but what is committed: no venv, no Bazel output, no generated file left over.
    assert not (clone / ".venv").exists()
    _run(["make", "setup"], clone, UV_OFFLINE="1", VIRTUAL_ENV="")
    with bazel_in(clone) as bazel:
        # `make bazel-demo` is `bazel build //examples:churn`, with this test's output root.
        startup = " ".join(bazel.startup)
        _run(["make", "bazel-demo", f"BAZEL=bazel {startup}"], clone)
        report = json.loads(
            _run([str(clone / ".venv/bin/axl"), "build", "//examples:churn", "--json"], clone)
        )
        steps = ["evaluate", "features", "generate", "params", "split", "train"]
        assert sorted(report["steps"]) == steps
        # bazel-bin leads into the output root, which goes away with the server.
        assert_same_outputs(clone / "bazel-bin/examples/churn.bazel", report)
