"""``warm_env``: a worker makes a workflow's locked environment once per lockfile digest.

Environments live in ``<worker cache>/envs/<lockfile digest>/``, made with ``uv sync --frozen
--no-install-project`` (exactly what ``uv.lock`` pins, never a new resolution; the project's own
modules come from the source bundle). A file lock makes concurrent steps on one worker (or
several workers sharing a cache folder) build it once; a ``.axl-ready`` marker written last says
it is complete, so a sync killed halfway is redone. Every sync appends one line to
``envs/syncs.log``, the audit of what a worker installed and when.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

from axl.errors import RunnerError
from axl.graph._deps import LOCKFILE_NAME
from axl.runtime._venv import _tail, _uv

READY = ".axl-ready"
SYNC_LOG = "syncs.log"


def lock_digest(dependencies: str) -> str:
    """The lockfile digest of a key's ``dependencies`` entry (``"uv.lock:<digest>"``).

    Raises:
        RunnerError: The workflow's dependencies are not a lockfile.
    """
    kind, _, digest = dependencies.partition(":")
    if kind != LOCKFILE_NAME or len(digest) != 64:
        raise RunnerError(
            f"warm_env makes environments from uv.lock, and this workflow's dependencies are "
            f"{dependencies!r}",
            hint="use use_lockfile = True (and commit uv.lock), or run workers in an environment "
            "that has the dependencies (without warm_env)",
        )
    return digest


def synced_python(envs: Path, source: Path, dependencies: str) -> str:
    """The Python of the environment for ``dependencies``, made from ``source`` if missing.

    Args:
        envs: The worker's environments folder.
        source: An unpacked source bundle holding ``pyproject.toml`` and ``uv.lock``.
        dependencies: The key's dependencies entry (names the lockfile digest).

    Raises:
        RunnerError: Not a lockfile workflow, ``uv sync`` failed, or the environment lacks axl.
    """
    digest = lock_digest(dependencies)
    venv = envs / digest
    python = venv / "bin" / "python"
    if (venv / READY).is_file():
        return str(python)
    envs.mkdir(parents=True, exist_ok=True)
    with (envs / f"{digest}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        if (venv / READY).is_file():
            return str(python)
        shutil.rmtree(venv, ignore_errors=True)  # a sync that died halfway
        started = time.time()
        proc = subprocess.run(
            [*_uv(), "sync", "--frozen", "--no-install-project", "--project", str(source)],
            env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)},
            capture_output=True,
            text=True,
            check=False,
        )
        with (envs / SYNC_LOG).open("a", encoding="utf-8") as log:
            log.write(f"{digest} exit={proc.returncode} seconds={time.time() - started:.1f}\n")
        if proc.returncode != 0:
            raise RunnerError(
                f"`uv sync --frozen` on the worker failed with exit code {proc.returncode}: "
                + _tail(proc.stderr or proc.stdout),
                hint="check that uv.lock matches pyproject.toml (`uv lock --check`)",
            )
        check = subprocess.run(
            [str(python), "-c", "import axl.runtime"], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            raise RunnerError(
                "the environment made from uv.lock cannot import axl: " + _tail(check.stderr),
                hint="add axl to the workflow's dependencies, so the runner can run inside it",
            )
        (venv / READY).write_text(dependencies + "\n", encoding="utf-8")
    return str(python)
