"""``--setup-env``: the runner makes the workflow's environment with ``uv sync --frozen``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, write
from runtime_helpers import emit, forget_modules, runner, save

PROBE = """
import sys

from axl import Workflow, step


class Probe(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 1}

    @step(io_handler="json")
    def where(self, n: int) -> dict:
        return {"prefix": sys.prefix, "n": n}

    def graph(self):
        return self.where(self.params()["n"])
"""


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed, and --setup-env needs it: run `make setup`")
    return uv


@pytest.fixture
def probe(workspace: Path) -> Path:
    forget_modules()
    write(workspace / "probe.py", PROBE)
    return workspace


def _manifest(root: Path) -> Path:
    manifest, _ = emit("probe.py:Probe", root)
    return save(root / "m.json", manifest)


def test_a_baked_image_installs_nothing(probe: Path) -> None:
    path = _manifest(probe)
    run = runner(
        "--manifest", path, "--step", "params", "--outputs", probe / "o", "--setup-env",
        cwd=probe, env={"AXL_BAKED": "1"},
    )  # fmt: skip
    assert run.code == 0, run.err
    assert run.events("env_setup")[0]["skipped"] is True
    assert not (probe / ".venv").exists()


def test_no_lockfile_or_a_bad_one_is_a_clear_error(probe: Path) -> None:
    path = _manifest(probe)
    args = ("--manifest", path, "--step", "params", "--outputs", probe / "o", "--setup-env")
    run = runner(*args, cwd=probe, env={"UV_OFFLINE": "1"})
    assert run.code == 2
    assert "uv sync --frozen` failed" in run.errors[-1]["message"]  # the fixture's lock is a stub
    (probe / "uv.lock").unlink()
    run = runner(*args, cwd=probe)
    assert run.code == 2
    assert "needs the workflow's lockfile" in run.errors[-1]["message"]
    assert not (probe / "o").exists()


@pytest.mark.integration
@pytest.mark.slow
def test_setup_env_syncs_the_lockfile_and_runs_inside_it(probe: Path) -> None:
    """A project depending on axl (by path, as a checkout would): the runner creates .venv from
    uv.lock, re-executes itself there, and the step runs on that environment's Python."""
    uv = _uv()
    (probe / "pyproject.toml").write_text(
        '[project]\nname = "probe"\nversion = "0"\nrequires-python = ">=3.10"\n'
        'dependencies = ["axl-build"]\n\n[tool.uv.sources]\n'
        f'axl-build = {{ path = "{REPO}", editable = true }}\n'
    )
    (probe / "uv.lock").unlink()  # the fixture's stub
    env = {"UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never"}
    # Offline: the packages come from uv's cache, filled when this checkout's venv was made.
    lock = subprocess.run(
        [uv, "lock"], cwd=probe, capture_output=True, text=True, env={**os.environ, **env}
    )
    assert lock.returncode == 0, lock.stderr
    path = _manifest(probe)
    store = probe / "store"
    args = ("--manifest", path, "--store", store, "--run-id", "r", "--setup-env")
    assert runner(*args, "--step", "params", cwd=probe, env=env).code == 0
    run = runner(*args, "--step", "where", cwd=probe, env=env)
    assert run.code == 0, run.err
    assert run.events("env_setup")
    assert run.events("env_exec")
    record = json.loads((store / "runs" / "r" / "where.json").read_text())
    digest = record["outputs"]["out"]["digest"]
    result = json.loads((store / "cas" / digest[:2] / digest).read_text())
    assert Path(result["prefix"]).resolve() == (probe / ".venv").resolve()
    # Again: the environment is reused (uv finds it in sync), nothing reinstalled.
    again = runner(*args, "--step", "where", cwd=probe, env=env)
    assert again.code == 0, again.err
    assert "Installed" not in again.events("env_setup")[0].get("uv", "")
