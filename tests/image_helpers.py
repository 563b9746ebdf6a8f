"""Helpers shared by the image tests: small locked workspaces and a fresh-import ``prepare``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from axl.image._build import ImageOptions, Prepared, prepare
from axl.image._plan import PlanCache

#: A workflow with one helper module, so a change to a module it imports can be tested.
FLOW = """
from axl import Workflow, step

from helpers import double


class Flow(Workflow):
    @step
    def params(self) -> dict:
        return {"n": 3}

    @step
    def make(self, n: int) -> list:
        return [double(i) for i in range(n)]

    def graph(self):
        return self.make(self.params()["n"])
"""

HELPERS = """
def double(x):
    return 2 * x
"""

#: Module names the image tests load from throwaway workspaces.
MODULES = ("flow", "helpers", "other")


def uv() -> str:
    """The ``uv`` binary (the image tests need it on the machine, as ``make setup`` does)."""
    found = shutil.which("uv")
    if found is None:
        raise AssertionError("the image tests need `uv` on PATH (make setup installs it)")
    return found


def lock(root: Path) -> None:
    """``uv lock`` the workspace (offline when it has no dependencies to look up)."""
    proc = subprocess.run(
        [uv(), "lock", "--project", str(root)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


def pyproject(name: str = "ws", dependencies: tuple[str, ...] = (), extra: str = "") -> str:
    deps = ", ".join(f'"{d}"' for d in dependencies)
    return textwrap.dedent(
        f"""
        [project]
        name = "{name}"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = [{deps}]
        """
    ).lstrip() + textwrap.dedent(extra)


def make_workspace(root: Path, *, dependencies: tuple[str, ...] = (), extra: str = "") -> Path:
    """A virtual project with ``flow.py`` + ``helpers.py`` and a real ``uv.lock``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(pyproject(dependencies=dependencies, extra=extra))
    (root / "flow.py").write_text(textwrap.dedent(FLOW).lstrip())
    (root / "helpers.py").write_text(textwrap.dedent(HELPERS).lstrip())
    lock(root)
    return root


def forget() -> None:
    for name in MODULES:
        sys.modules.pop(name, None)


def prepared(
    root: Path,
    options: ImageOptions | None = None,
    spec: str = "flow.py:Flow",
    cache: bool = True,
) -> Prepared:
    """``prepare`` as a fresh process would run it (the workflow's modules not yet imported)."""
    forget()
    plans = PlanCache(root / ".axl" / "image") if cache else None
    try:
        return prepare(str(root / spec), options or ImageOptions(), root, plans)
    finally:
        if plans is not None:
            plans.save()
