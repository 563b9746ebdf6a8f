"""``--setup-env``: make the workflow's environment from its lockfile, then run inside it.

For images that are not baked (a generic Python image with the workflow's sources mounted): the
runner creates or reuses a virtualenv with ``uv sync --frozen`` (exactly what ``uv.lock`` pins,
never a fresh resolution) and re-executes itself with that environment's Python. In a baked image
(``AXL_BAKED=1``, set by axl's image builder) nothing is installed at run time.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from axl.errors import RunnerError
from axl.runtime._logs import JsonLog

#: Set in the re-executed runner, so that it does not set the environment up again.
READY_VAR = "AXL_ENV_READY"


def ensure_environment(root: Path, argv: Sequence[str], log: JsonLog) -> None:
    """Sync the workflow's environment and re-execute the runner in it (does not return then).

    Returns when nothing needs doing: a baked image, an already re-executed runner, or a runner
    already running on that environment's Python.

    Raises:
        RunnerError: No ``uv.lock``, no ``uv``, ``uv sync`` failed, or the environment lacks axl.
    """
    if os.environ.get("AXL_BAKED") == "1":
        log.note("env_setup", "baked image: nothing to install", skipped=True)
        return
    if os.environ.get(READY_VAR) == "1":
        return
    lock = root / "uv.lock"
    if not lock.is_file():
        raise RunnerError(
            f"--setup-env needs the workflow's lockfile, and {lock} does not exist",
            hint="commit uv.lock beside pyproject.toml (run `uv lock`), or bake the image",
        )
    uv = _uv()
    venv = Path(os.environ.get("AXL_VENV") or root / ".venv").resolve()
    started = time.perf_counter()
    proc = subprocess.run(
        [*uv, "sync", "--frozen", "--project", str(root)],
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RunnerError(
            f"`uv sync --frozen` failed with exit code {proc.returncode}: "
            + _tail(proc.stderr or proc.stdout),
            hint="check that uv.lock matches pyproject.toml (`uv lock --check`)",
        )
    log.note(
        "env_setup",
        venv=str(venv),
        duration=time.perf_counter() - started,
        uv=_tail(proc.stderr, lines=5),
    )
    python = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv:
        return
    check = subprocess.run(
        [str(python), "-c", "import axl.runtime"], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        raise RunnerError(
            f"the environment made from {lock} cannot import axl: " + _tail(check.stderr),
            hint="add axl to the workflow's dependencies, so the runner can run inside it",
        )
    log.note("env_exec", python=str(python))
    sys.stdout.flush()
    sys.stderr.flush()
    args = [str(python), "-m", "axl.runtime", *[a for a in argv if a != "--setup-env"]]
    os.execve(python, args, {**os.environ, READY_VAR: "1"})  # noqa: S606 - argv list, no shell


def _uv() -> list[str]:
    """The uv command: the ``uv`` binary on PATH, else the ``uv`` package of this Python."""
    binary = shutil.which("uv")
    if binary is not None:
        return [binary]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    raise RunnerError(
        "--setup-env needs uv, which is not installed",
        hint="install uv in the image (pip install uv), or bake the image",
    )


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())
