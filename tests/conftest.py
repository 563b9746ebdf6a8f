"""Shared fixtures: a throwaway workspace and an in-process CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Fixture plugins for real external components; one module each.
pytest_plugins = [
    "nginx_fixtures",
    "s3_fixtures",
    "docker_fixtures",
    "registry_fixtures",
    "dask_fixtures",
]


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace (a folder with pyproject.toml and uv.lock) as the current folder."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "ws"\nversion = "0"\n')
    (root / "uv.lock").write_text("version = 1\n")
    monkeypatch.chdir(root)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def axl(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """Run the real ``axl`` console script in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-m", "axl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
