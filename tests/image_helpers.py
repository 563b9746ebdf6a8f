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


CHURN = "examples/churn_workflow.py:ChurnWorkflow"
#: The churn example needs scikit-learn, which axl's own pyproject has only in its (large) dev
#: group; the churn workspace declares it in a group of its own, as a user project would.
CHURN_GROUP = '\nchurn = ["scikit-learn>=1.4"]\n'
#: What ``axl build-image`` needs besides --base for the churn workspace.
CHURN_ARGS = ("--tag", "axl-test/churn", "--extra", "data", "--group", "churn")


def make_churn_workspace(root: Path) -> Path:
    """axl's own workspace trimmed to what the churn image needs, with a ``churn`` group.

    axl is the project (installed from the code layer), the churn example is the workflow.
    """
    repo = Path(__file__).resolve().parent.parent
    root.mkdir(parents=True)
    for name in ("uv.lock", "README.md", "LICENSE"):
        shutil.copy(repo / name, root / name)
    text = (repo / "pyproject.toml").read_text()
    text = text.replace("[dependency-groups]\n", "[dependency-groups]" + CHURN_GROUP, 1)
    (root / "pyproject.toml").write_text(text)
    shutil.copytree(repo / "axl", root / "axl", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("runner/manifest.schema.json", "images/Dockerfile.workflow.tmpl"):
        (root / name).parent.mkdir(exist_ok=True)
        shutil.copy(repo / name, root / name)  # hatch force-includes them into axl's wheel
    shutil.copytree(repo / "rules", root / "rules")  # force-included too (axl bazel init)
    (root / "examples").mkdir()
    shutil.copy(repo / "examples" / "churn_workflow.py", root / "examples")
    (root / "examples" / "churn.yaml").write_text("n_customers: 1500\nn_estimators: 12\n")
    lock(root)
    return root
