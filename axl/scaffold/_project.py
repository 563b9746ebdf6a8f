"""``axl init [DIR]``: a project that builds: pyproject, BUILD, a small workflow and its params.

The workflow has three steps (params, data, a summary) and builds with ``axl build //:NAME``;
``uv.lock`` is written by ``uv lock`` when uv is installed (it is part of every step's key).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from axl import __version__
from axl.errors import UsageError
from axl.scaffold._files import WROTE, Outcome, add_lines, write_new

#: The distribution that installs axl from PyPI (the import name and the command are ``axl``).
DISTRIBUTION = "axl-build"
GITIGNORE = (".axl/", "/workspace/", ".venv/", "__pycache__/", "/bazel-*")

_PYPROJECT = """[project]
name = "{name}"
version = "0.1.0"
description = "A workflow built with axl."
requires-python = ">=3.10"
dependencies = ["{requirement}"]
"""
_SOURCE = """
# axl from the checkout `axl init` ran from (remove this to use the released axl).
[tool.uv.sources]
{dist} = {{ path = "{path}", editable = true }}
"""
_BUILD = """# axl's targets: `axl build //:{target}`; list them with `axl query //...`.
# Bazel reads this file too after `axl bazel init` (axl skips the load and exports_files).
load("@axl//rules:axl.bzl", "axl_workflow")

exports_files(["uv.lock"])

axl_workflow(
    name = "{target}",
    workflow = "pipeline.py:Pipeline",
    params = "params.yaml",
)
"""
_WORKFLOW = '''"""A small axl workflow: params, data, a summary.

`axl build //:{target}` builds it; a second build reuses every step, and editing one step reruns
only it and what depends on it.
"""

from axl import Workflow, step


class Pipeline(Workflow):
    @step
    def params(self) -> dict:
        """The defaults; params.yaml overrides them."""
        return {{"n": 10, "scale": 1.0}}

    @step(io_handler="json")
    def data(self, n: int, scale: float) -> list:
        return [i * scale for i in range(n)]

    @step(io_handler="json")
    def summary(self, values: list) -> dict:
        return {{"count": len(values), "total": sum(values), "max": max(values, default=None)}}

    def graph(self):
        p = self.params()
        return self.summary(self.data(p["n"], p["scale"]))
'''
_PARAMS = """# Overrides of Pipeline.params (a key it does not define is an error).
n: 100
scale: 0.5
"""


@dataclass(frozen=True)
class Created:
    """What ``axl init`` did: the project folder, its target, each file, and a note on uv.lock."""

    root: Path
    target: str
    files: list[Outcome]
    lock_note: str


def project_name(folder: Path) -> str:
    """A target and project name from the folder's name (letters, digits, ``_``)."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", folder.name).strip("_").lower()
    if not name or not name[0].isalpha():
        name = f"p_{name}" if name else "pipeline"
    return name


def requirement() -> tuple[str, str | None]:
    """The dependency on axl, and the checkout to take it from when axl runs from one.

    A checkout (an editable install) names its own distribution in its pyproject.toml; a
    released axl is :data:`DISTRIBUTION` from PyPI.
    """
    checkout = Path(__file__).resolve().parents[2]
    meta = checkout / "pyproject.toml"
    if (checkout / "axl" / "__init__.py").is_file() and meta.is_file():
        from axl.image._project import read_pyproject

        name = str(read_pyproject(checkout).get("project", {}).get("name", DISTRIBUTION))
        return name, str(checkout)
    release = ".".join(__version__.split(".")[:2])
    return f"{DISTRIBUTION}>={release}", None


def files_for(target: str, requirement: str, checkout: str | None) -> list[tuple[str, str]]:
    """The files ``axl init`` writes (relative path, text). Pure."""
    pyproject = _PYPROJECT.format(name=target.replace("_", "-"), requirement=requirement)
    if checkout is not None:
        pyproject += _SOURCE.format(dist=requirement, path=checkout)
    return [
        ("pyproject.toml", pyproject),
        ("BUILD", _BUILD.format(target=target)),
        ("pipeline.py", _WORKFLOW.format(target=target)),
        ("params.yaml", _PARAMS),
    ]


def init_project(folder: Path) -> Created:
    """Write a runnable project into ``folder`` (created when missing).

    Raises:
        UsageError: ``folder`` is a file, or one of the files exists already.
    """
    root = folder.resolve()
    if root.exists() and not root.is_dir():
        raise UsageError(f"{folder} is a file, not a folder", hint="name a new folder")
    root.mkdir(parents=True, exist_ok=True)
    target = project_name(root)
    wanted, checkout = requirement()
    written = write_new(root, files_for(target, wanted, checkout))
    written.append(add_lines(root / ".gitignore", GITIGNORE, ".gitignore"))
    note = _lock(root)
    if (root / "uv.lock").is_file():
        written.append(Outcome("uv.lock", WROTE, "uv lock"))
    return Created(root, target, written, note)


def _lock(root: Path) -> str:
    """Run ``uv lock``; say why there is no uv.lock when it cannot."""
    uv = shutil.which("uv")
    if uv is None:
        return (
            "uv is not installed, so there is no uv.lock yet: install uv and run `uv lock` "
            "(the lockfile is part of every step's key)"
        )
    try:
        done = subprocess.run(
            [uv, "lock", "--quiet"],
            check=False,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`uv lock` did not finish ({exc}): run it again in {root}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"`uv lock` failed ({last}): fix that and run it again in {root}"
    return ""
