"""Workflows and helpers for the Dask executor's tests (tests/test_cluster_*.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import write

SLOW = """
import time

from axl import Workflow, step


class Slow(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 3, "pause": 5.0}

    @step
    def make(self, n: int) -> list:
        return list(range(n))

    @step
    def slow(self, xs: list, pause: float) -> int:
        time.sleep(pause)
        return sum(xs)

    @step
    def report(self, total: int) -> str:
        return f"total={total}"

    def graph(self):
        p = self.params()
        return self.report(self.slow(self.make(p["n"]), p["pause"]))
"""

GPU = """
from axl import Workflow, step


class Gpu(Workflow):
    @step
    def make(self) -> list:
        return [1, 2]

    @step(resources={"gpu": "1"})
    def fit(self, xs: list) -> int:
        return sum(xs)

    def graph(self):
        return self.fit(self.make())
"""


def write_workflow(root: Path, name: str, text: str) -> None:
    write(root / f"{name}.py", text)


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "axl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        timeout=300,
    )


def start_cli(*args: str, cwd: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "axl", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
    return proc.returncode, out, err


def digests(report: dict[str, Any]) -> dict[str, tuple[str | None, dict[str, str]]]:
    """step -> (key, {output: digest})."""
    return {
        name: (step["key"], {o: rec["digest"] for o, rec in step["outputs"].items()})
        for name, step in report["steps"].items()
    }


def report_of(stdout: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(stdout)
    return data


def wait_until(check: Any, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def processing_on(step: str) -> Any:
    """A scheduler function: the names of the workers running step ``step``'s task."""

    def fn(dask_scheduler: Any) -> list[str]:
        return [
            str(ts.processing_on.name)
            for key, ts in dask_scheduler.tasks.items()
            if str(key).startswith(f"axl-{step}-") and ts.processing_on is not None
        ]

    return fn


def runners(worker_folder: Path, step: str) -> list[int]:
    """PIDs of runner processes (``python -m axl.runtime``) running ``step`` for that worker."""
    store = f"{worker_folder}/cache/store"
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"axl.runtime" in argv and store.encode() in argv and step.encode() in argv:
            found.append(int(proc.name))
    return found


WHERE = """
import sys

from axl import Workflow, step


class Where(Workflow):
    @step
    def prefix(self) -> str:
        return sys.prefix

    @step
    def size(self, prefix: str) -> int:
        return len(prefix)

    def graph(self):
        return self.size(self.prefix())
"""


def lockfile_project(root: Path, axl_source: Path) -> None:
    """A project whose uv.lock pins axl (from ``axl_source``), locked with the real uv."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "wenv"\nversion = "0"\nrequires-python = ">=3.10"\n'
        'dependencies = ["axl-build"]\n\n[tool.uv]\npackage = false\n\n'
        f'[tool.uv.sources]\naxl-build = {{ path = "{axl_source}" }}\n'
    )
    proc = subprocess.run(
        ["uv", "lock", "-q"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
