"""`axl init`, then `axl bazel init` in that uv project (axl installed in its venv from a wheel,
as from PyPI), then real Bazel builds its workflow: the same bytes as `axl build`, and the same
again from a copy of the project at another path (no file depends on where the project lives).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from bazel_helpers import assert_same_outputs, bazel_in
from conftest import axl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: uv installs from its cache only: the tests talk to nothing beyond this machine.
OFFLINE = {"UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}


def _run(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env={**os.environ, **OFFLINE}, check=False
    )
    assert proc.returncode == 0, f"{args}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc.stdout


def _project(base: Path) -> Path:
    done = axl("init", "proj", cwd=base, env=OFFLINE)
    assert done.code == 0, done.err
    root = base / "proj"
    # axl as a user gets it: a wheel in the project's venv, not this checkout's sources.
    meta = root / "pyproject.toml"
    meta.write_text(meta.read_text().replace("editable = true", "editable = false"))
    _run(["uv", "sync", "--quiet"], root)
    return root


def test_bazel_init_then_bazel_build_in_a_uv_project(tmp_path: Path) -> None:
    root = _project(tmp_path)
    own = str(root / ".venv/bin/axl")
    out = _run([own, "bazel", "init"], root)
    assert "wrote WORKSPACE" in out
    assert "kept BUILD (it exports uv.lock" in out  # axl init's BUILD serves Bazel too
    workspace = (root / "WORKSPACE").read_text()
    assert 'venv = ".venv"' in workspace
    assert 'path = ".venv/lib/python3.' in workspace  # the rules installed with axl
    assert str(tmp_path) not in (root / "WORKSPACE").read_text() + (root / ".bazelrc").read_text()
    assert "wrote proj.bazel/BUILD.bazel (3 steps)" in _run([own, "bazel", "//:proj"], root)
    report = json.loads(_run([own, "build", "//:proj", "--json"], root))
    # One disk cache for both builds: the copy's actions hit only if their keys are the same.
    flags = ["--color=no", "--curses=no", f"--disk_cache={tmp_path / 'disk-cache'}", "//:proj"]
    with bazel_in(root) as bazel:
        built = bazel("build", *flags)
        assert built.returncode == 0, built.stderr[-6000:]
        assert "4 processwrapper-sandbox" in built.stderr  # the manifests and three steps ran
        assert_same_outputs(root / "bazel-bin/proj.bazel", report)
    moved = tmp_path / "elsewhere" / "proj"
    shutil.copytree(root, moved, symlinks=True, ignore=shutil.ignore_patterns("bazel-*"))
    with bazel_in(moved) as bazel:
        built = bazel("build", *flags)
        assert built.returncode == 0, built.stderr[-6000:]
        assert "4 remote cache hit" in built.stderr, built.stderr[-2000:]  # the disk cache
        assert "processwrapper-sandbox" not in built.stderr.split("INFO: Elapsed")[-1]
        assert_same_outputs(moved / "bazel-bin/proj.bazel", report)
