"""Which workspace files an image needs besides the workflow's modules: the project's own.

When the workspace's ``pyproject.toml`` makes an installable project (it has a
``[build-system]``, and ``[tool.uv] package`` is not false), the image installs it, so the
files its build backend reads must be in the build context: ``pyproject.toml``, the import
package (``<name>/``, ``src/<name>/``, ``<name>.py``, or hatch's ``packages``), the readme, the
license files and hatch's ``force-include`` sources. A project whose layout these rules miss names
its files with ``include``.

A virtual project (no build system) is not installed: its dependencies come from the lockfile
and its modules from the code layer.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from axl.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Folder and file names never copied from a tree (caches, VCS, virtualenvs).
_SKIP_DIRS = frozenset({"__pycache__", ".git", ".venv", ".axl", ".mypy_cache", ".pytest_cache"})


def read_pyproject(root: Path) -> dict[str, Any]:
    """The workspace's ``pyproject.toml`` as a dict (empty when there is none).

    Raises:
        UsageError: It is not valid TOML.
    """
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}", file=path) from None


def is_installable(pyproject: dict[str, Any]) -> bool:
    """Whether uv would build and install the project (see uv's ``tool.uv.package``)."""
    package = pyproject.get("tool", {}).get("uv", {}).get("package")
    if package is not None:
        return bool(package)
    return "build-system" in pyproject and "project" in pyproject


def project_files(root: Path, pyproject: dict[str, Any]) -> list[str]:
    """Workspace-relative files an install of the project reads, sorted.

    Raises:
        UsageError: No import package is found where the rules look.
    """
    project = pyproject.get("project", {})
    name = str(project.get("name", "")).replace("-", "_").replace(".", "_").lower()
    wheel = pyproject.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
    wheel = wheel.get("wheel", {})
    roots: list[str] = [str(p) for p in wheel.get("packages", [])]
    if not roots:
        candidates = (name, f"src/{name}", f"{name}.py", f"src/{name}.py")
        roots = [c for c in candidates if name and (root / c).exists()][:1]
    if not roots:
        raise UsageError(
            f"cannot tell which files make up project {project.get('name')!r}: none of "
            f"{name}/, src/{name}/, {name}.py exists in {root}",
            hint="list the project's files with --include (or include = [...] in the rule)",
        )
    wanted = ["pyproject.toml", *roots]
    readme = project.get("readme")
    if isinstance(readme, dict):
        readme = readme.get("file")
    if isinstance(readme, str):
        wanted.append(readme)
    license_ = project.get("license")
    if isinstance(license_, dict) and isinstance(license_.get("file"), str):
        wanted.append(license_["file"])
    for pattern in project.get("license-files", []):
        wanted.extend(
            p.relative_to(root).as_posix() for p in sorted(root.glob(pattern)) if p.is_file()
        )
    wanted.extend(str(src) for src in wheel.get("force-include", {}))
    return expand(root, wanted, what="project file")


def expand(root: Path, paths: list[str], *, what: str) -> list[str]:
    """Files and folders (walked) relative to ``root`` -> sorted workspace-relative files.

    Raises:
        UsageError: A path is missing or outside the workspace.
    """
    found: set[str] = set()
    resolved = root.resolve()
    for rel in paths:
        path = (root / rel).resolve()
        if not path.is_relative_to(resolved):
            raise UsageError(f"{what} {rel} is outside the workspace {root}")
        if path.is_file():
            found.add(path.relative_to(resolved).as_posix())
        elif path.is_dir():
            found.update(_walk(path, resolved))
        else:
            raise UsageError(f"{what} {rel} does not exist in {root}", hint="fix the path")
    return sorted(found)


def _walk(folder: Path, root: Path) -> list[str]:
    # os.path on strings: this runs on every build-image, and pathlib costs ~10x per file here.
    files: list[str] = []
    base = str(root)
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        rel = os.path.relpath(here, base).replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        files.extend(
            prefix + name
            for name in names
            if not name.endswith((".pyc", ".pyo")) and not name.startswith(".")
        )
    return files


def check_extras_and_groups(
    pyproject: dict[str, Any], extras: tuple[str, ...], groups: tuple[str, ...]
) -> None:
    """Refuse extras and groups the project does not define (uv would, mid-build).

    Raises:
        UsageError: An unknown extra or group, with the known ones as a hint.
    """
    known_extras = sorted(pyproject.get("project", {}).get("optional-dependencies", {}))
    known_groups = sorted(pyproject.get("dependency-groups", {}))
    wanted = [(e, known_extras, "extra") for e in extras]
    wanted += [(g, known_groups, "dependency group") for g in groups]
    for value, known, what in wanted:
        if value not in known:
            raise UsageError(
                f"the project defines no {what} {value!r}",
                hint=f"its {what}s: {', '.join(known) or 'none'}",
            )
