"""The distributions PyPI would get: ``uv build`` then ``twine check``, and what they hold."""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

import axl


def _uv() -> list[str]:
    """The uv command: on PATH, else the module (``make setup`` installs it with pip)."""
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run(
        ["python3", "-m", "uv", "--version"], capture_output=True, text=True, check=False
    )
    if probe.returncode == 0:
        return ["python3", "-m", "uv"]
    pytest.fail("uv is not installed: run `make setup` (it installs uv with pip)")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [*_uv(), "build", "--out-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.slow
def test_twine_check_passes(dist: Path) -> None:
    files = sorted(str(p) for p in dist.iterdir() if p.suffix in {".whl", ".gz"})
    assert len(files) == 2, files
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_wheel_contents_and_metadata(dist: Path) -> None:
    wheel = _one(dist, f"axl_build-{axl.__version__}-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = f"axl_build-{axl.__version__}.dist-info"
        meta = email.message_from_bytes(zf.read(f"{info}/METADATA"))
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    assert {"axl/__init__.py", "axl/py.typed", "axl/cli/__init__.py", "axl/ir/__init__.py"} <= names
    assert "axl/runconfig.schema.json" in names  # --config checks files against it
    assert not [n for n in names if n.startswith(("tests/", "examples/", ".venv/"))]
    # `axl bazel init` points @axl at the rules installed with axl.
    rules = {f"axl/_bazel/rules/{name}" for name in ("axl.bzl", "python.bzl", "BUILD.bazel")}
    assert rules <= names
    assert meta["Name"] == "axl-build"  # the distribution; the import name stays axl
    assert meta["Version"] == axl.__version__
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "axl = axl.cli:run" in entry_points
    assert "Build engine" in meta.get_payload()  # the README is the long description


@pytest.mark.slow
def test_sdist_contents(dist: Path) -> None:
    sdist = _one(dist, f"axl_build-{axl.__version__}.tar.gz")
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", "LICENSE", "axl/__init__.py", "axl/py.typed"} <= names
    assert not [n for n in names if n.startswith((".venv/", ".axl/", "tests/", ".git/"))]
